/** Users of a moto_server started with IAM enforced (`startMoto({ freeRequests: 3 })`). */
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import type { IamStatementLike } from './iam-check';

export interface MotoCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

type ClientConfig = (credentials: MotoCredentials) => NonNullable<ConstructorParameters<typeof IAMClient>[0]>;

/** A user holding `statements`, made by `iam` (an administrator's client); its access key. */
export async function motoUser(iam: IAMClient, name: string, statements: readonly IamStatementLike[], policyName = 'role'): Promise<MotoCredentials> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  await iam.send(
    new PutUserPolicyCommand({ UserName: name, PolicyName: policyName, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }),
  );
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey;
  return { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' };
}

/** The administrator who sets up the account: the three free requests make it; every later request is signed. */
export function motoAdministrator(config: ClientConfig): Promise<MotoCredentials> {
  const bootstrap = new IAMClient(config({ accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' }));
  return motoUser(bootstrap, 'admin', [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }], 'all');
}
