/**
 * IAM enforced in moto_server (`startMoto({ freeRequests: 3 })`): the three free requests make an
 * administrator, who then makes one user per function holding exactly its planned statements.
 */
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import type { S3Client } from '@aws-sdk/client-s3';
import type { IamStatementLike } from './iam-check';
import type { MotoServer } from './moto-server';

export interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The requests `enforceIam` spends before any user exists: pass it as `startMoto({ freeRequests })`. */
export const BOOTSTRAP_REQUESTS = 3;

/** Actions moto names after its own handler rather than as IAM does: Lambda's Invoke is `lambda:InvokeFunction` to IAM. */
const MOTO_ACTION_NAMES: Record<string, string[]> = { 'lambda:InvokeFunction': ['lambda:InvokeFunction', 'lambda:Invoke'] };

/**
 * moto evaluates resources for S3 only: for its other services it matches the action against "*". The
 * user holds the S3 statements as planned and the others' actions on "*"; what those may touch is the
 * IAM simulator's to check (iam-check.ts). moto also names CloudWatch's actions by its signing name.
 */
export const forMoto = (policy: readonly IamStatementLike[]): IamStatementLike[] =>
  policy.map((s) =>
    s.Action.every((a) => a.startsWith('s3:'))
      ? s
      : {
          Effect: s.Effect,
          Action: s.Action.flatMap((a) => MOTO_ACTION_NAMES[a] ?? (a.startsWith('cloudwatch:') ? [a, a.replace('cloudwatch:', 'monitoring:')] : [a])),
          Resource: ['*'],
        },
  );

export interface EnforcedIam {
  admin: Keys;
  /** SDK settings signing as `keys`, one attempt. */
  config(keys: Keys): { endpoint: string; region: string; credentials: Keys; maxAttempts: number; forcePathStyle: boolean };
  /** A user holding `statements` (as moto evaluates them), and its keys. */
  makeUser(name: string, statements: readonly IamStatementLike[]): Promise<Keys>;
}

/** An IAM user made in moto (IAM enforced) holding `policy` as moto can hold it (`forMoto`); its access keys. */
export async function motoUser(iam: IAMClient, UserName: string, policy: readonly IamStatementLike[]): Promise<Keys> {
  await iam.send(new CreateUserCommand({ UserName }));
  await iam.send(
    new PutUserPolicyCommand({ UserName, PolicyName: 'role', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: forMoto(policy) }) }),
  );
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName }))).AccessKey;
  return { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' };
}

/**
 * The administrator of a moto_server started with `freeRequests: BOOTSTRAP_REQUESTS`: those requests
 * make it (unsigned), every later request is signed. `iamClient` makes an IAM client for given keys.
 */
export function motoAdmin(iamClient: (keys: Keys) => IAMClient): Promise<Keys> {
  return motoUser(iamClient({ accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' }), 'admin', [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }]);
}

export async function enforceIam(moto: Pick<MotoServer, 'endpoint'>, region = 'us-east-1'): Promise<EnforcedIam> {
  const config = (credentials: Keys) => ({ endpoint: moto.endpoint, region, credentials, maxAttempts: 1, forcePathStyle: true });
  const admin = await motoAdmin((keys) => new IAMClient(config(keys)));
  const iam = new IAMClient(config(admin));
  return { admin, config, makeUser: (name, statements) => motoUser(iam, name, statements) };
}

/**
 * moto 5.2.1 with IAM enforced computes the signature of a query holding "/" differently from the SDK
 * (SignatureDoesNotMatch): `client` lists such a prefix by listing without it and keeping what is
 * under it. moto still decides s3:ListBucket.
 */
export function listsPastMotoPrefixQuirk(client: S3Client): S3Client {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const prefix = (args.input as { Prefix?: string }).Prefix;
      if (context.commandName !== 'ListObjectsV2Command' || !prefix?.includes('/')) return next(args);
      const { Prefix: _dropped, ...rest } = args.input as { Prefix?: string };
      const result = await next({ ...args, input: rest });
      const output = result.output as { Contents?: Array<{ Key?: string }>; KeyCount?: number; Prefix?: string };
      output.Contents = (output.Contents ?? []).filter((o) => o.Key?.startsWith(prefix));
      output.KeyCount = output.Contents.length;
      output.Prefix = prefix;
      return result;
    },
    { step: 'initialize', name: 'motoPrefixQuirk' },
  );
  return client;
}
