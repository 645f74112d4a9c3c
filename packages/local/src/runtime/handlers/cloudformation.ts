/**
 * A CloudFormation action on one machine runs the same compiled wait loop as on AWS; its Tasks are
 * bound here. The `aws-sdk:cloudformation:*` calls go to the user's own AWS account with the SDK's
 * default credential chain (environment, profile, SSO, instance role; `AWS_ENDPOINT_URL` for an
 * emulator), and the cloudformation function's two operations read and write the local artifacts:
 * `prepare` (template body, template configuration, parameter overrides: core's stackCallInput, as the
 * function on AWS) and `outputs` (the outputs file in the output artifact).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { CloudFormation } from '@aws-sdk/client-cloudformation';
import {
  type ActionArtifacts,
  ArtifactInvalidError,
  type CloudFormationAction,
  type InvokeAction,
  SteplineError,
  splitArtifactFile,
  stackCallInput,
  stackOutputsFile,
  templateBody,
} from '@stepline/core';
import type { TaskHandler } from '../../engine/execute';
import { type ExecutionContext, needsLocalSetting } from '../context';
import { invokeHandler } from './invoke';

/** The APIs the compiled loop calls, named as Step Functions and the SDK's aggregated client both name them. */
const APIS = new Set([
  'describeStacks',
  'createStack',
  'updateStack',
  'deleteStack',
  'createChangeSet',
  'describeChangeSet',
  'executeChangeSet',
  'deleteChangeSet',
]);
type Call = (input: unknown, options: { abortSignal: AbortSignal }) => Promise<{ $metadata: unknown }>;
const SDK_RESOURCE = /^arn:aws:states:::aws-sdk:cloudformation:(\w+)$/;

/** The user's CloudFormation client for one action, checked for credentials once, before the first call. */
class UserCloudFormation {
  private ready: Promise<CloudFormation> | undefined;
  constructor(
    private readonly ctx: ExecutionContext,
    private readonly action: CloudFormationAction,
  ) {}

  client(): Promise<CloudFormation> {
    this.ready ??= this.connect();
    return this.ready;
  }

  private async connect(): Promise<CloudFormation> {
    const { action } = this;
    // stepline runs on Node 20 by design (engines); the SDK's warning about it would only be noise in the run's output.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const client = new CloudFormation({ maxAttempts: 3 });
    const refuse = (needs: string) => needsLocalSetting(action, `deploys the CloudFormation stack ${action.stackName}`, needs);
    let region: string;
    let accessKey: string;
    try {
      region = await client.config.region();
    } catch (error) {
      throw Object.assign(refuse('an AWS region (AWS_REGION, or a profile with a region)'), { cause: error });
    }
    try {
      accessKey = (await client.config.credentials()).accessKeyId;
    } catch (error) {
      throw Object.assign(refuse('your AWS credentials (none found: environment, AWS_PROFILE, SSO or instance role) or a local.command'), { cause: error });
    }
    const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION ?? process.env.AWS_ENDPOINT_URL;
    this.ctx.reporter.note(
      `    ${action.name}: deploying stack ${action.stackName} to your AWS account in ${region} with access key …${accessKey.slice(-4)}${endpoint ? ` at ${endpoint}` : ''}`,
    );
    return client;
  }
}

/** An SDK error as Step Functions' SDK integration raises it: `CloudFormation.<code>`, CloudFormation's message as the cause. */
function asTaskError(error: unknown): Error {
  if (error instanceof SteplineError) return error;
  const e = error as Error;
  return Object.assign(new Error(e.message), { name: `CloudFormation.${e.name}` });
}

/** The input artifacts as core reads them: files checked against their manifest; no S3 attributes here. */
function localArtifacts(ctx: ExecutionContext, action: CloudFormationAction): ActionArtifacts {
  const verified = new Map<string, Promise<unknown>>();
  return {
    async read(artifact, path) {
      if (!action.inputArtifacts.includes(artifact))
        throw new ArtifactInvalidError(`${artifact}::${path}: ${artifact} is not an input artifact of ${action.name}`);
      const file = normalize(path);
      if (file.startsWith('..') || file.startsWith('/')) throw new ArtifactInvalidError(`${artifact}::${path} leaves the artifact`);
      const check = verified.get(artifact) ?? ctx.artifacts.verify(ctx.pipeline.name, ctx.executionId, artifact);
      verified.set(artifact, check);
      await check;
      try {
        return await readFile(join(ctx.artifacts.dir(ctx.pipeline.name, ctx.executionId, artifact), file), 'utf8');
      } catch (error) {
        throw new ArtifactInvalidError(`${artifact}::${path}: no such file in artifact ${artifact}`, { cause: error });
      }
    },
    attribute: (artifact, name) => ({
      unavailable: `on one machine ${artifact} is a directory, not an S3 object; ${name} exists when the pipeline runs on AWS`,
    }),
  };
}

interface FunctionPayload {
  Payload: { operation: 'prepare' } | { operation: 'outputs'; mode: string; result?: { stack?: { stack?: { Outputs?: [] } } }; outputFileName?: string };
}

/**
 * The handler of one of the action's Task states: its `local.command` when it has one (compiled as a
 * single command Task); otherwise the call the state makes.
 */
export function cloudFormationHandler(ctx: ExecutionContext, action: CloudFormationAction, stage: string, state: string): TaskHandler {
  if (action.local !== undefined) {
    const asInvoke = { ...action, kind: 'invoke', command: action.local.command, outputVariables: undefined } as unknown as InvokeAction;
    return invokeHandler(ctx, asInvoke, stage);
  }
  const resource = (ctx.compiled.definition.States[state] as { Resource?: string } | undefined)?.Resource ?? '';
  const api = SDK_RESOURCE.exec(resource)?.[1];
  if (api !== undefined) {
    if (!APIS.has(api)) throw new Error(`state ${state} calls cloudformation:${api}, which stepline does not call`);
    const user = userClient(ctx, action, stage);
    return async (input: unknown) => {
      const client = await user.client();
      try {
        const call = (client as unknown as Record<string, Call>)[api] as Call;
        const { $metadata: _, ...answer } = await call.call(client, input, { abortSignal: ctx.signal });
        // Dates as Step Functions passes them on: text.
        return JSON.parse(JSON.stringify(answer)) as unknown;
      } catch (error) {
        throw asTaskError(error);
      }
    };
  }
  return async (input: unknown) => {
    const { Payload } = input as FunctionPayload;
    const artifacts = localArtifacts(ctx, action);
    if (Payload.operation === 'prepare') {
      const { artifact, path } = splitArtifactFile(action.templatePath ?? '');
      const template = templateBody(await artifacts.read(artifact, path), action.templatePath ?? '');
      return { Payload: await stackCallInput(action, template, artifacts) };
    }
    const name = action.outputArtifacts[0] ?? '';
    const dir = await ctx.artifacts.prepare(ctx.pipeline.name, ctx.executionId, name);
    if (Payload.outputFileName !== undefined) {
      const outputs = Payload.mode === 'DELETE_ONLY' ? [] : Payload.result?.stack?.stack?.Outputs;
      const file = normalize(Payload.outputFileName);
      if (file.startsWith('..') || file.startsWith('/')) throw new ArtifactInvalidError(`outputFileName ${Payload.outputFileName} leaves the artifact ${name}`);
      await writeFile(join(dir, file), stackOutputsFile(outputs));
    }
    const manifest = await ctx.artifacts.seal(ctx.pipeline.name, ctx.executionId, name);
    ctx.store.recordArtifact(ctx.executionId, name, dir, manifest.files, new Date().toISOString());
    return { Payload: { artifact: name, files: manifest.files } };
  };
}

/** One client per action and execution: the credential check and the note come once, not per look. */
const clients = new WeakMap<ExecutionContext, Map<string, UserCloudFormation>>();
function userClient(ctx: ExecutionContext, action: CloudFormationAction, stage: string): UserCloudFormation {
  const byAction = clients.get(ctx) ?? new Map<string, UserCloudFormation>();
  clients.set(ctx, byAction);
  const key = `${stage}.${action.name}`;
  const user = byAction.get(key) ?? new UserCloudFormation(ctx, action);
  byAction.set(key, user);
  return user;
}
