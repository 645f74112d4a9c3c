/**
 * The rehearsal: one installation run end to end, offline, as AWS would run it.
 *
 * - The installation is what the stacks plan (`planInstallation`) for a fixture pipeline: source →
 *   build and test in parallel → manual approval → ECS canary. What `sst deploy` writes into the bucket
 *   (manifest, pipeline list) is written with the stacks' own functions.
 * - moto_server enforces IAM: each function and each CodeBuild project signs as its own IAM user holding
 *   exactly the statements the plan gives its role.
 * - A push signed as GitHub signs it reaches the real webhook handler, which starts the execution through
 *   a Step Functions stand-in; the compiled state machine runs in the local engine, each Task calling the
 *   real handler code; `codebuild:startBuild.sync` calls a CodeBuild stand-in (./stand-ins.ts).
 * - The approval is decided by HTTP requests to the link the SNS message carries; the canary shifts
 *   weights on moto's listener.
 * - Every request (and each Task integration of the state machine) is also checked against the planned
 *   policies with an IAM simulator, for what moto does not model: S3's 403 for a missing key without
 *   s3:ListBucket, and Step Functions' service integrations.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeTaskDefinitionCommand, DescribeTaskSetsCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { sign } from '@octokit/webhooks-methods';
import { SignatureV4 } from '@smithy/signature-v4';
import { ControlPrefix, type ExecutionInput, type FunctionKey, type Pipeline, parsePipeline, Resource } from '@stepline/core';
import { execute, type TaskHandler, taskStateNames } from '@stepline/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ApprovalStore } from '../../packages/functions/src/approvals/store';
import { dispatchGateEvent } from '../../packages/functions/src/gates/events';
import { SfnTaskResponder } from '../../packages/functions/src/gates/responder';
import { S3GateStore } from '../../packages/functions/src/gates/s3-store';
import { GateService } from '../../packages/functions/src/gates/service';
import { approvalRequestDependencies, makeApprovalRequestHandler } from '../../packages/functions/src/handlers/approval-request';
import { approvalResponseDependencies, makeApprovalResponseHandler } from '../../packages/functions/src/handlers/approval-response';
import { createCanaryHandler } from '../../packages/functions/src/handlers/canary';
import { makeSourceHandler, sourceDependencies } from '../../packages/functions/src/handlers/source';
import { makeWebhookHandler, webhookDependencies } from '../../packages/functions/src/handlers/webhook';
import { SecretCache } from '../../packages/functions/src/secrets';
import { PipelineSource } from '../../packages/functions/src/webhook/pipelines';
import { pipelineList, pipelineManifest } from '../../stacks/manifest';
import { type InstallationPlan, planInstallation } from '../../stacks/plan';
import { createEcsFixture, type EcsFixture, ecsSettingsFor } from '../helpers/ecs-fixture';
import { checkRequests, describeDenials, type IamRequest, type IamStatementLike } from '../helpers/iam-check';
import { httpEvent, lambdaContext } from '../helpers/lambda-events';
import { listsPastMotoPrefixQuirk, motoAdmin, motoUser } from '../helpers/moto-iam';
import { MOTO_ACCOUNT, MOTO_REGION, type MotoServer, motoSkipReason, startMoto } from '../helpers/moto-server';
import { noWaits } from '../helpers/stub-handlers';
import { until } from '../helpers/until';
import { gitHubStandIn, handleSfn, type StandInProject, startBuildSync } from './stand-ins';

const skip = motoSkipReason();
const REGION = MOTO_REGION;
const ACCOUNT = MOTO_ACCOUNT;
const STAGE = 'rehearsal';
const REPOSITORY = 'acme/web';
const WEBHOOK_SECRET = 'rehearsal-webhook-secret';
const LINK_KEY = 'rehearsal-link-signing-key';
/** The team's own CodeBuild project for the test action (`project:`): not planned, the team's role. */
const TEAM_PROJECT = 'acme-web-tests';

// REHEARSAL_LOG=DEBUG shows every function's log lines.
const silent = new Logger({ serviceName: 'stepline-rehearsal', logLevel: (process.env.REHEARSAL_LOG as 'DEBUG' | undefined) ?? 'SILENT' });

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
}

const toBytes = (data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 for SigV4, from node:crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(toBytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

interface Execution {
  arn: string;
  name: string;
  machineArn: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  done: Promise<{ status: string; error?: string; cause?: string; output?: unknown }>;
  states: string[];
}

describe.skipIf(skip)('rehearsal: an installation as planned, run end to end with IAM enforced', () => {
  let moto: MotoServer;
  let server: Server;
  let base = '';
  let work: string;
  let repoDir: string;
  let plan: InstallationPlan;
  let pipeline: Pipeline;
  const keys = new Map<string, Keys>();
  const principals = new Map<string, string>();
  const statements = new Map<string, IamStatementLike[]>();
  /** Every AWS request the rehearsal made, for the IAM simulator. */
  const requests: IamRequest[] = [];
  const executions = new Map<string, Execution>();
  const tokens = new Map<string, { resolve: (output: unknown) => void; reject: (error: Error) => void }>();
  const inbox: Array<{ approval: { approveUrl: string; rejectUrl: string } }> = [];
  let github: ReturnType<typeof gitHubStandIn>;
  let admin: {
    s3: S3Client;
    ecs: ECSClient;
    elb: ElasticLoadBalancingV2Client;
    cloudwatch: CloudWatchClient;
    sns: SNSClient;
    ssm: SSMClient;
    iam: IAMClient;
  };
  let fx: EcsFixture;
  /** A scenario's hook before each canary Task. */
  let beforeCanaryStep: (operation: string) => Promise<void> = async () => undefined;

  const config = (k: Keys) => ({ endpoint: moto.endpoint, region: REGION, credentials: k, maxAttempts: 1, forcePathStyle: true });
  const keysOf = (principal: string) => {
    const k = keys.get(principal);
    if (!k) throw new Error(`no IAM user for ${principal}`);
    return k;
  };

  const writtenAtDeploy = (key: string) => key === ControlPrefix.pipelineList || key.startsWith(ControlPrefix.pipelines);

  /** Records what an SDK client of `principal` asks of S3, for the IAM simulator. */
  function recordS3(principal: string, client: S3Client): S3Client {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Bucket?: string; Key?: string; Prefix?: string };
        const command = String(context.commandName ?? '').replace(/Command$/, '');
        const action = command === 'ListObjectsV2' ? 's3:ListBucket' : command === 'HeadObject' ? 's3:GetObject' : `s3:${command}`;
        const resource = input.Key === undefined ? `arn:aws:s3:::${input.Bucket}` : `arn:aws:s3:::${input.Bucket}/${input.Key}`;
        requests.push({
          principal,
          action,
          resource,
          ...(input.Prefix !== undefined && { context: { 's3:prefix': input.Prefix } }),
          // A read may meet a missing key (S3 answers 403 for it without s3:ListBucket), except of what
          // `sst deploy` writes before any function runs.
          ...((command === 'GetObject' || command === 'HeadObject') && !writtenAtDeploy(input.Key ?? '') && { mayBeMissing: true }),
        });
        return next(args);
      },
      { step: 'initialize', name: 'rehearsalRecorder' },
    );
    // The prefix was recorded above for the simulator.
    return listsPastMotoPrefixQuirk(client);
  }

  /** The IAM action and resource of a request to ECS, ELBv2, CloudWatch, SSM or SNS, for the simulator. */
  function awsResource(service: string, command: string, input: Record<string, unknown>): { action: string; resource: string } {
    const ecsService = (cluster: unknown, svc: unknown) => `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${cluster}/${svc}`;
    switch (`${service}:${command}`) {
      case 'ssm:GetParameter':
        return { action: 'ssm:GetParameter', resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${input.Name}` };
      case 'sns:Publish':
        return { action: 'sns:Publish', resource: String(input.TopicArn) };
      case 'ecs:CreateTaskSet':
        return { action: 'ecs:CreateTaskSet', resource: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-set/${input.cluster}/${input.service}/ecs-svc/0` };
      case 'ecs:DeleteTaskSet':
      case 'ecs:DescribeTaskSets': {
        const taskSet = String(input.taskSet ?? (input.taskSets as string[] | undefined)?.[0] ?? '');
        return {
          action: `ecs:${command}`,
          resource: taskSet.startsWith('arn:')
            ? taskSet
            : `arn:aws:ecs:${REGION}:${ACCOUNT}:task-set/${input.cluster}/${input.service}/${taskSet || 'ecs-svc/0'}`,
        };
      }
      case 'ecs:UpdateServicePrimaryTaskSet':
        return { action: 'ecs:UpdateServicePrimaryTaskSet', resource: ecsService(input.cluster, input.service) };
      case 'elasticloadbalancing:ModifyListener':
        return { action: 'elasticloadbalancing:ModifyListener', resource: String(input.ListenerArn) };
      case 'elasticloadbalancing:ModifyRule':
        return { action: 'elasticloadbalancing:ModifyRule', resource: String(input.RuleArn) };
      default:
        return { action: `${service}:${command}`, resource: '*' };
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: every SDK client's middleware stack, whatever its service's types
  function record<T extends { middlewareStack: any }>(principal: string, service: string, client: T): T {
    (client.middlewareStack as S3Client['middlewareStack']).add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? '').replace(/Command$/, '');
        requests.push({ principal, ...awsResource(service, command, args.input as Record<string, unknown>) });
        try {
          return await next(args);
        } catch (error) {
          // moto answers a missing task set with ClientException; ECS names it TaskSetNotFoundException
          // (DeleteTaskSet, UpdateServicePrimaryTaskSet API reference), which is what the canary handles.
          if ((error as Error).name === 'ClientException' && /task set does not exist/.test((error as Error).message))
            throw Object.assign(error as Error, { name: 'TaskSetNotFoundException' });
          if (process.env.REHEARSAL_LOG) console.log(`REHEARSAL ${principal} ${service}:${command} ${JSON.stringify(args.input)} failed: ${String(error)}`);
          throw error;
        }
      },
      { step: 'initialize', name: 'rehearsalRecorder' },
    );
    return client;
  }

  const s3Of = (principal: string) => recordS3(principal, new S3Client(config(keysOf(principal))));
  const sfnOf = (principal: string) => new SFNClient({ endpoint: `${base}/sfn`, region: REGION, credentials: keysOf(principal), maxAttempts: 1 });
  const secretsOf = (principal: string) =>
    new SecretCache({
      secretsManager: async () => new SecretsManagerClient(config(keysOf(principal))),
      ssm: async () => record(principal, 'ssm', new SSMClient(config(keysOf(principal)))),
    });
  const envOf = (key: FunctionKey, extra: Record<string, string> = {}) => ({ ...plan.functions[key].environment, ...extra });
  const contextOf = (key: FunctionKey) => ({ ...lambdaContext(plan.functions[key].name), invokedFunctionArn: plan.functions[key].arn });

  /** moto's EC2 query API, signed (the project has no EC2 client). */
  async function ec2(params: Record<string, string>): Promise<string> {
    const k = keysOf('admin');
    const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
    const url = new URL(moto.endpoint);
    const signer = new SignatureV4({ credentials: k, region: REGION, service: 'ec2', sha256: Sha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    return (await fetch(moto.endpoint, { method: 'POST', headers: signed.headers, body })).text();
  }

  async function makeUser(name: string, policy: IamStatementLike[]): Promise<void> {
    const key = await motoUser(admin.iam, name, policy);
    keys.set(name, key);
    principals.set(key.accessKeyId, name);
    statements.set(name, policy);
  }

  // ------------------------------------------------------------------------------------ the functions

  const handlers = {
    source: () =>
      makeSourceHandler({
        ...sourceDependencies(envOf('source', { GITHUB_API_URL: `${base}/github` })),
        logger: silent,
        s3: async () => s3Of('source'),
        secrets: secretsOf('source'),
      }),
    'approval-request': () => {
      const env = envOf('approval-request', { PUBLIC_URL: `${base}/approval` });
      return makeApprovalRequestHandler({
        ...approvalRequestDependencies(env),
        secrets: secretsOf('approval-request'),
        store: () => new S3ApprovalStore({ s3: async () => s3Of('approval-request'), bucket: plan.names.bucket }),
        sns: async () => record('approval-request', 'sns', new SNSClient(config(keysOf('approval-request')))),
        logger: silent,
      });
    },
    'approval-response': () =>
      makeApprovalResponseHandler({
        ...approvalResponseDependencies(envOf('approval-response', { PUBLIC_URL: `${base}/approval` })),
        secrets: secretsOf('approval-response'),
        store: () => new S3ApprovalStore({ s3: async () => s3Of('approval-response'), bucket: plan.names.bucket }),
        sfn: async () => sfnOf('approval-response'),
        logger: silent,
      }),
    webhook: () => {
      const env = envOf('webhook');
      return makeWebhookHandler({
        ...webhookDependencies(env),
        sfn: async () => sfnOf('webhook'),
        secrets: secretsOf('webhook'),
        pipelines: () => new PipelineSource({ setting: env.PIPELINES ?? '', s3: async () => s3Of('webhook'), ttlMs: 0 }),
        logger: silent,
      });
    },
    // The gate handler composes these from its environment; here with the gate's own clients.
    gate: () => {
      const service = new GateService({
        store: new S3GateStore({ s3: s3Of('gate'), bucket: envOf('gate').ARTIFACT_BUCKET ?? '' }),
        responder: new SfnTaskResponder(sfnOf('gate')),
      });
      return (event: unknown) => dispatchGateEvent(event, { service, stateMachinePrefix: envOf('gate').STATE_MACHINE_PREFIX ?? '' });
    },
    canary: () => {
      const k = keysOf('canary');
      return createCanaryHandler({
        clients: () => ({
          ecs: record('canary', 'ecs', new ECSClient(config(k))),
          elb: record('canary', 'elasticloadbalancing', new ElasticLoadBalancingV2Client(config(k))),
          cloudwatch: record('canary', 'cloudwatch', new CloudWatchClient(config(k))),
          lambda: new LambdaClient(config(k)),
          s3: s3Of('canary'),
        }),
        env: envOf('canary'),
        logger: silent,
        sleep: async () => undefined,
        healthPollMs: 1,
      });
    },
  };

  const functionOf = (arn: string): FunctionKey => {
    const found = Object.values(plan.functions).find((f) => f.arn === arn);
    if (!found) throw new Error(`the state machine invokes ${arn}, which the installation does not have`);
    return found.key;
  };

  /** A Lambda function error, as the Lambda integration reports it: the error's name, a JSON cause. */
  const lambdaError = (error: unknown) => {
    const e = error as Error;
    return Object.assign(new Error(JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] })), { name: e.name });
  };

  async function invoke(key: FunctionKey, payload: unknown): Promise<unknown> {
    try {
      switch (key) {
        case 'source':
          return await handlers.source()(payload, contextOf(key));
        case 'approval-request':
          return await handlers['approval-request']()(payload, contextOf(key));
        case 'gate':
          return await handlers.gate()(payload);
        case 'canary':
          return await handlers.canary()(payload, { getRemainingTimeInMillis: () => 900_000 });
        default:
          throw new Error(`the state machine does not invoke ${key}`);
      }
    } catch (error) {
      throw lambdaError(error);
    }
  }

  // ------------------------------------------------------------------------------- the state machine

  /** Each Task bound as its AWS integration runs it, with the state machine role's request recorded. */
  function bindings(machineName: string, definition: Parameters<typeof taskStateNames>[0]): Record<string, TaskHandler> {
    const out: Record<string, TaskHandler> = {};
    const states = collectTasks(definition);
    for (const name of taskStateNames(definition)) {
      const resource = states[name] ?? '';
      out[name] = async (input: unknown) => {
        const params = input as { FunctionName?: string; Payload?: Record<string, unknown>; ProjectName?: string };
        if (resource === Resource.CodeBuildSync) {
          const projectArn = `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${params.ProjectName}`;
          requests.push({ principal: machineName, action: 'codebuild:StartBuild', resource: projectArn });
          requests.push({ principal: machineName, action: 'codebuild:BatchGetBuilds', resource: projectArn });
          requests.push({
            principal: machineName,
            action: 'events:PutRule',
            resource: `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventForCodeBuildStartBuildRule`,
          });
          return startBuildSync(input, { projects: projects(), repoDir, workDir: join(work, 'builds'), region: REGION, accountId: ACCOUNT });
        }
        const fn = params.FunctionName ?? '';
        requests.push({ principal: machineName, action: 'lambda:InvokeFunction', resource: fn });
        const key = functionOf(fn);
        if (key === 'canary') await beforeCanaryStep(String(params.Payload?.operation ?? ''));
        if (resource === Resource.LambdaWaitForToken) {
          // Step Functions makes a token per Task; the local engine has one per run, so mint it here.
          const token = `token-${Math.random().toString(36).slice(2)}-${Date.now()}`;
          const answered = new Promise<unknown>((resolve, reject) => tokens.set(token, { resolve, reject }));
          await invoke(key, { ...params.Payload, taskToken: token });
          return answered;
        }
        const result = await invoke(key, params.Payload);
        return { ExecutedVersion: '$LATEST', StatusCode: 200, Payload: result };
      };
    }
    return out;
  }

  function collectTasks(machine: { States: Record<string, unknown> }): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, s] of Object.entries(machine.States)) {
      const state = s as {
        Type: string;
        Resource?: string;
        Branches?: Array<{ States: Record<string, unknown> }>;
        ItemProcessor?: { States: Record<string, unknown> };
      };
      if (state.Type === 'Task') out[name] = state.Resource ?? '';
      for (const b of state.Branches ?? []) Object.assign(out, collectTasks(b));
      if (state.ItemProcessor) Object.assign(out, collectTasks(state.ItemProcessor));
    }
    return out;
  }

  function projects(): Map<string, StandInProject> {
    const map = new Map<string, StandInProject>();
    for (const p of plan.projects)
      map.set(p.name, { name: p.name, source: { type: p.source.type === 'GITHUB' ? 'GITHUB' : 'S3', repository: REPOSITORY }, s3: s3Of(`project:${p.name}`) });
    map.set(TEAM_PROJECT, { name: TEAM_PROJECT, source: { type: 'S3' }, s3: s3Of(`project:${TEAM_PROJECT}`) });
    return map;
  }

  const waitOverrides: Record<string, number> = {};

  async function startExecution(machineArn: string, name: string, input: string): Promise<{ executionArn: string; startDate: number }> {
    const machine = plan.stateMachines.find((m) => m.arn === machineArn);
    if (!machine) throw Object.assign(new Error(`State Machine Does Not Exist: '${machineArn}'`), { name: 'StateMachineDoesNotExist' });
    const arn = `${machineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = executions.get(arn);
    if (existing) {
      // StartExecution is idempotent for a running execution with the same name and input.
      if (existing.status === 'RUNNING' && existing.input === input) return { executionArn: arn, startDate: Date.now() };
      throw Object.assign(new Error(`Execution Already Exists: '${arn}'`), { name: 'ExecutionAlreadyExists' });
    }
    const states: string[] = [];
    const running = execute(machine.compiled.definition, {
      input: JSON.parse(input),
      executionName: name,
      handlers: bindings(machine.name, machine.compiled.definition),
      waitTimeOverrides: { ...noWaits(machine.compiled), ...waitOverrides },
      onEvent: (e) => {
        if (e.type === 'StateEntered') states.push(e.state.name);
      },
    });
    const execution: Execution = { arn, name, machineArn, input, status: 'RUNNING', done: Promise.resolve({ status: 'RUNNING' }), states };
    // EventBridge's rules (stacks/install.ts): an ended execution goes to the gate, and to the canary when
    // it ended without success. The run is over for the test once they have answered.
    execution.done = running.outcome.then(async (o) => {
      execution.status = o.status as Execution['status'];
      const event = {
        version: '0',
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        detail: { executionArn: arn, stateMachineArn: machineArn, name, status: o.status, input },
      };
      await invoke('gate', event);
      if (o.status !== 'SUCCEEDED') await invoke('canary', event);
      return o;
    });
    executions.set(arn, execution);
    return { executionArn: arn, startDate: Date.now() };
  }

  // -------------------------------------------------------------------------------------- HTTP front

  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      req.on('data', (d) => {
        body += String(d);
      });
      req.on('end', () => resolve(body));
    });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const body = await read(req);
    if (url.pathname.startsWith('/github/')) {
      if (!github.handle(url.pathname.slice('/github'.length), res)) res.writeHead(404).end();
      return;
    }
    if (url.pathname.startsWith('/_codeload/')) {
      github.handle(url.pathname, res);
      return;
    }
    if (url.pathname === '/sfn' || url.pathname === '/sfn/') {
      await handleSfn(req, body, res, {
        principalOf: (id) => principals.get(id),
        authorize: async (call) => {
          requests.push({ principal: call.principal, action: call.action, resource: call.resource });
          const denials = await checkRequests((p) => statements.get(p) ?? [], [{ principal: call.principal, action: call.action, resource: call.resource }]);
          return denials.length > 0 ? describeDenials(denials) : undefined;
        },
        startExecution,
        describeExecution: (arn) => {
          const e = executions.get(arn);
          return e && { status: e.status, input: e.input, name: e.name, stateMachineArn: e.machineArn };
        },
        sendTaskSuccess: (token, output) => {
          const waiting = tokens.get(token);
          tokens.delete(token);
          waiting?.resolve(JSON.parse(output));
          return waiting !== undefined;
        },
        sendTaskFailure: (token, error, cause) => {
          const waiting = tokens.get(token);
          tokens.delete(token);
          waiting?.reject(Object.assign(new Error(cause ?? ''), { name: error ?? 'States.TaskFailed' }));
          return waiting !== undefined;
        },
      });
      return;
    }
    if (url.pathname === '/inbox') {
      const envelope = JSON.parse(body) as { Type: string; Message: string };
      if (envelope.Type === 'Notification') inbox.push(JSON.parse(envelope.Message));
      res.end('ok');
      return;
    }
    if (url.pathname.startsWith('/approval')) {
      // The approval-response function behind its Function URL.
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const out = await handlers['approval-response']()(
        httpEvent({ method: req.method ?? 'GET', headers, body, query: url.search.slice(1) }),
        contextOf('approval-response'),
      );
      res.writeHead(out.statusCode, out.headers as Record<string, string>);
      res.end(out.body);
      return;
    }
    res.writeHead(404).end();
  }

  // ----------------------------------------------------------------------------------------- set up

  function git(...args: string[]): string {
    return execFileSync('git', args, {
      cwd: repoDir,
      env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' },
    })
      .toString()
      .trim();
  }

  function commit(files: Record<string, string>, message: string): string {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(repoDir, path, '..'), { recursive: true });
      writeFileSync(join(repoDir, path), text);
    }
    git('add', '-A');
    git('commit', '-q', '-m', message);
    return git('rev-parse', 'HEAD');
  }

  const TASKDEF = JSON.stringify({
    family: 'web',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    containerDefinitions: [{ name: 'web', image: '<IMAGE1_NAME>', memory: 512, essential: true, portMappings: [{ containerPort: 8080 }] }],
  });

  const BUILDSPEC = `version: 0.2
env:
  exported-variables: [IMAGE]
phases:
  build:
    commands:
      - test -f app.txt
      - export IMAGE="${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/web:\${CODEBUILD_RESOLVED_SOURCE_VERSION}"
      - printf '{"ImageURI":"%s"}' "$IMAGE" > imageDetail.json
      - echo "report of $STEPLINE_EXECUTION_ID" > report.txt
artifacts:
  files: [imageDetail.json]
  secondary-artifacts:
    Build_Report:
      files: [report.txt]
`;
  const TESTSPEC = `version: 0.2
phases:
  build:
    commands:
      - grep -q ok app.txt
      - test -f "$CODEBUILD_SRC_DIR_Build_Report/report.txt"
`;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'stepline-rehearsal-'));
    repoDir = join(work, 'repo');
    mkdirSync(repoDir);
    git('init', '-q', '-b', 'main');
    commit({ 'app.txt': 'ok\n', 'taskdef.json': TASKDEF, 'buildspec.yml': BUILDSPEC, 'testspec.yml': TESTSPEC }, 'First version');

    server = createServer((req, res) => {
      route(req, res).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String((error as Error).stack ?? error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    github = gitHubStandIn(REPOSITORY, repoDir, () => `${base}/github`);

    // The first three requests are free: they make the administrator who sets up the account.
    moto = await startMoto({ freeRequests: 3 });
    keys.set('admin', await motoAdmin((k) => new IAMClient(config(k))));
    const a = config(keysOf('admin'));
    admin = {
      s3: new S3Client(a),
      ecs: new ECSClient(a),
      elb: new ElasticLoadBalancingV2Client(a),
      cloudwatch: new CloudWatchClient(a),
      sns: new SNSClient(a),
      ssm: new SSMClient(a),
      iam: new IAMClient(a),
    };

    // The team's ECS service (EXTERNAL deployments), its ALB and alarm: what the deploy action names.
    fx = await createEcsFixture({
      ec2,
      ecs: admin.ecs,
      elb: admin.elb,
      cloudwatch: admin.cloudwatch,
      blueTaskDefinition: JSON.parse(TASKDEF.replace('<IMAGE1_NAME>', 'web:1')),
    });

    pipeline = parsePipeline({
      name: 'web',
      variables: [{ name: 'ENV', default: 'staging' }],
      stages: [
        {
          name: 'Source',
          actions: [{ name: 'Checkout', kind: 'source', repository: REPOSITORY, branch: 'main', outputArtifacts: ['Src'], namespace: 'SourceVariables' }],
        },
        {
          name: 'Build',
          actions: [
            { name: 'Compile', kind: 'build', inputArtifacts: ['Src'], outputArtifacts: ['App', 'Build-Report'], namespace: 'BuildVariables' },
            { name: 'Test', kind: 'test', project: TEAM_PROJECT, buildspec: 'testspec.yml', inputArtifacts: ['Src', 'Build-Report'], runOrder: 2 },
            // A commands action: the project the installation creates for it, the build's artifact as its input.
            {
              name: 'Stamp',
              kind: 'commands',
              inputArtifacts: ['App'],
              outputArtifacts: ['Stamp'],
              outputFiles: ['stamp/*'],
              namespace: 'StampVars',
              outputVariables: ['TAG'],
              runOrder: 2,
              commands: [
                'TAG="$(sed \'s/.*:\\([0-9a-f]*\\)".*/\\1/\' imageDetail.json)"',
                'mkdir stamp && echo "$TAG" > stamp/tag.txt && echo x > scratch.txt',
              ],
            },
          ],
        },
        { name: 'Approve', actions: [{ name: 'Release', kind: 'approval', customData: 'Ship #{BuildVariables.IMAGE} (#{StampVars.TAG})?' }] },
        {
          name: 'Deploy',
          actions: [
            {
              name: 'Canary',
              kind: 'deploy',
              // CodeDeployToECS's usual layout: taskdef.json from the source, imageDetail.json from the build.
              inputArtifacts: ['App', 'Src'],
              strategy: 'CodeDeployDefault.ECSCanary10Percent5Minutes',
              checkIntervalSeconds: 150,
              terminationWaitMinutes: 1,
              alarms: ['web-5xx'],
              ecs: ecsSettingsFor(fx),
            },
          ],
        },
      ],
    });
    plan = planInstallation({
      stage: STAGE,
      region: REGION,
      accountId: ACCOUNT,
      pipelines: [pipeline],
      secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']),
    });

    // What `sst deploy` creates before any push: bucket, topics, secrets, the manifest and pipeline list.
    await admin.s3.send(new CreateBucketCommand({ Bucket: plan.names.bucket }));
    for (const machine of plan.stateMachines)
      await admin.s3.send(
        new PutObjectCommand({
          Bucket: plan.names.bucket,
          Key: machine.manifestKey,
          Body: JSON.stringify(pipelineManifest(machine, STAGE, plan.names.bucket)),
        }),
      );
    const list = plan.functions.webhook.environment.PIPELINES?.replace(`s3://${plan.names.bucket}/`, '') ?? '';
    await admin.s3.send(
      new PutObjectCommand({ Bucket: plan.names.bucket, Key: list, Body: JSON.stringify(pipelineList(plan.stateMachines.map((m) => m.pipeline))) }),
    );
    const topic = await admin.sns.send(new CreateTopicCommand({ Name: plan.names.approvalTopic }));
    expect(topic.TopicArn).toBe(plan.approvalTopicArn);
    await admin.sns.send(new SubscribeCommand({ TopicArn: topic.TopicArn, Protocol: 'http', Endpoint: `${base}/inbox` }));
    await admin.sns.send(new CreateTopicCommand({ Name: plan.names.notificationTopic }));
    for (const [secret, value] of [
      ['GithubWebhookSecret', WEBHOOK_SECRET],
      ['LinkSigningKey', LINK_KEY],
    ] as const) {
      await admin.ssm.send(new PutParameterCommand({ Name: plan.parameters[secret], Value: value, Type: 'SecureString' }));
    }

    // Each function and project signs as its own user, holding exactly its planned role's statements.
    for (const fn of Object.values(plan.functions)) await makeUser(fn.key, fn.statements);
    for (const project of plan.projects) await makeUser(`project:${project.name}`.replace(':', '-'), project.statements);
    for (const project of plan.projects) {
      keys.set(`project:${project.name}`, keysOf(`project-${project.name}`));
      statements.set(`project:${project.name}`, project.statements);
    }
    // The team's own project: its role is the team's, allowed to read this pipeline's artifacts.
    await makeUser(`project-${TEAM_PROJECT}`, [
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`${plan.bucketArn}/web/*`] },
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [plan.bucketArn] },
    ]);
    keys.set(`project:${TEAM_PROJECT}`, keysOf(`project-${TEAM_PROJECT}`));
    statements.set(`project:${TEAM_PROJECT}`, statements.get(`project-${TEAM_PROJECT}`) ?? []);
    for (const machine of plan.stateMachines) statements.set(machine.name, machine.statements);
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await moto?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  // ------------------------------------------------------------------------------------------- acts

  let deliveries = 0;
  /** A push to main, signed as GitHub signs it, into the real webhook handler. */
  async function push(after: string, deliveryId = `delivery-${++deliveries}`) {
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after,
      created: false,
      deleted: false,
      forced: false,
      repository: { full_name: REPOSITORY, name: 'web', owner: { login: 'acme', name: 'acme' }, default_branch: 'main' },
      pusher: { name: 'ada', email: 'ada@example.com' },
      sender: { login: 'ada' },
      head_commit: { id: after, message: 'change', timestamp: new Date().toISOString(), author: { name: 'Ada', email: 'ada@example.com' } },
      commits: [],
    });
    const answer = await handlers.webhook()(
      httpEvent({
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': deliveryId,
          'x-hub-signature-256': await sign(WEBHOOK_SECRET, body),
        },
        body,
      }),
      contextOf('webhook'),
    );
    return { answer, deliveryId };
  }

  /** The approver opens the link from the SNS message, and confirms. */
  async function approve(index: number, execution?: Execution) {
    let ended: unknown;
    void execution?.done.then((o) => {
      ended = o;
    });
    const message = await until(
      'the approval message',
      () => {
        if (ended) throw new Error(`the execution ended before its approval: ${JSON.stringify(ended)} after ${execution?.states.join(' → ')}`);
        return inbox[index];
      },
      60_000,
    );
    const page = await (await fetch(message.approval.approveUrl)).text();
    const action = /<form method="post" action="([^"]+)">/.exec(page)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const token = /name="token" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const decided = await fetch(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, email: 'ana@example.com', comment: 'Ship it' }).toString(),
    });
    expect(decided.status).toBe(200);
  }

  async function listenerWeights() {
    const actions = (await admin.elb.send(new DescribeListenersCommand({ ListenerArns: [fx.listenerArn] }))).Listeners?.[0]?.DefaultActions ?? [];
    return Object.fromEntries((actions[0]?.ForwardConfig?.TargetGroups ?? []).map((g) => [g.TargetGroupArn === fx.blueTg ? 'blue' : 'green', g.Weight]));
  }

  const executionOf = (deliveryId: string) => [...executions.values()].find((e) => e.name.includes(deliveryId));

  // -------------------------------------------------------------------------------------- scenarios

  it('happy path: a push builds, tests, waits for approval by link, and deploys by canary to 100%', async () => {
    const sha = git('rev-parse', 'HEAD');
    const { answer, deliveryId } = await push(sha);
    expect(answer.statusCode, answer.body).toBeLessThan(300);
    const execution = await until('the execution', () => executionOf(deliveryId), 60_000);
    await approve(0, execution);
    const outcome = await execution.done;
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'SUCCEEDED' });

    // Every consumer found its artifact: the source stored by the source function, the build's upload.
    const listed = await admin.s3.send(new ListObjectsV2Command({ Bucket: plan.names.bucket }));
    const keysListed = (listed.Contents ?? []).flatMap((o) =>
      o.Key?.startsWith(`web/${execution.name}/`) ? [o.Key.replace(`web/${execution.name}/`, '')] : [],
    );
    expect(keysListed).toEqual(
      expect.arrayContaining(['Src/manifest.json', 'Src/app.txt', 'Src/taskdef.json', 'App/imageDetail.json', 'Build-Report/report.txt']),
    );
    expect(keysListed).not.toContain('App/manifest.json');
    // The commands action ran in its own project on the build's artifact; only the files it names were uploaded.
    expect(keysListed).toContain('Stamp/stamp/tag.txt');
    expect(keysListed.filter((k) => k.startsWith('Stamp/'))).toStrictEqual(['Stamp/stamp/tag.txt']);
    const tag = await admin.s3.send(new GetObjectCommand({ Bucket: plan.names.bucket, Key: `web/${execution.name}/Stamp/stamp/tag.txt` }));
    expect(await tag.Body?.transformToString()).toBe(`${sha}\n`);
    // Its output variable reached the next stage: the approval request names the tag.
    expect(JSON.stringify(inbox[0])).toContain(`(${sha})?`);
    // The canary deployed the build's image; blue is gone; all traffic on green.
    const taskSets = (await admin.ecs.send(new DescribeTaskSetsCommand({ cluster: 'prod', service: 'web' }))).taskSets ?? [];
    expect(taskSets).toHaveLength(1);
    expect(taskSets[0]?.taskSetArn).not.toBe(fx.blueTaskSetArn);
    expect(taskSets[0]?.status).toBe('PRIMARY');
    expect(await listenerWeights()).toStrictEqual({ blue: 0, green: 100 });
    // Green's task definition is the source's taskdef.json with the build's image (imageDetail.json).
    const green = await admin.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskSets[0]?.taskDefinition }));
    expect(green.taskDefinition?.containerDefinitions?.[0]?.image).toBe(`${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/web:${sha}`);
    expect(github.requests).toEqual(expect.arrayContaining([`/repos/acme/web/tarball/${sha}`]));
  }, 180_000);

  it('every request the rehearsal made, and each Task integration, is allowed by the planned policies', async () => {
    expect(requests.length).toBeGreaterThan(20);
    const denials = await checkRequests((p) => statements.get(p) ?? [], requests);
    expect(describeDenials(denials), describeDenials(denials)).toBe('');
  });

  it('a redelivered push starts no second run', async () => {
    const before = executions.size;
    const message = inbox.length;
    const sha = git('rev-parse', 'HEAD');
    const first = await push(sha, 'delivery-redelivered');
    const again = await push(sha, 'delivery-redelivered');
    expect(first.answer.statusCode).toBeLessThan(300);
    expect(again.answer.statusCode).toBeLessThan(300);
    expect(executions.size).toBe(before + 1);
    // Let it end: approve, and the canary runs again from the new blue.
    await approve(message, executionOf('delivery-redelivered'));
    const outcome = await (executionOf('delivery-redelivered') as Execution).done;
    expect(outcome.status).toBe('SUCCEEDED');
  }, 180_000);

  it('a failing build fails the run naming its stage', async () => {
    const sha = commit({ 'app.txt': 'failing\n' }, 'Break the tests');
    const { deliveryId } = await push(sha);
    const execution = await until('the execution', () => executionOf(deliveryId), 60_000);
    const outcome = await Promise.race([
      execution.done,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${execution.states.join(' → ')}`)), 60_000)),
    ]);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed' });
    expect(outcome.cause).toMatch(/^Stage Build, action (Compile|Test) failed: /);
    expect(execution.states.some((s) => s.startsWith('Approve'))).toBe(false);
  }, 180_000);

  it('an alarm during the bake rolls back: blue at 100%, green deleted', async () => {
    const sha = commit({ 'app.txt': 'ok again\n' }, 'Fix the tests');
    const blueBefore = ((await admin.ecs.send(new DescribeTaskSetsCommand({ cluster: 'prod', service: 'web' }))).taskSets ?? [])[0]?.taskSetArn;
    const blueTgNow = (await listenerWeights()).green === 100 ? 'green' : 'blue';
    let alarmed = false;
    beforeCanaryStep = async (operation) => {
      if (operation === 'checkAlarms' && !alarmed) {
        alarmed = true;
        await admin.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: 'web-5xx', StateValue: 'ALARM', StateReason: 'rehearsal: 5xx during the bake' }));
      }
    };
    try {
      const message = inbox.length;
      const { deliveryId } = await push(sha);
      const execution = await until('the execution', () => executionOf(deliveryId), 60_000);
      await approve(message, execution);
      const outcome = await execution.done;
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'FAILED', error: 'Stepline.DeploymentRolledBack' });
      expect(outcome.cause).toMatch(/web-5xx/);
    } finally {
      beforeCanaryStep = async () => undefined;
      await admin.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: 'web-5xx', StateValue: 'OK', StateReason: 'rehearsal' }));
    }
    const taskSets = (await admin.ecs.send(new DescribeTaskSetsCommand({ cluster: 'prod', service: 'web' }))).taskSets ?? [];
    expect(taskSets.map((t) => t.taskSetArn)).toStrictEqual([blueBefore]);
    expect((await listenerWeights())[blueTgNow]).toBe(100);
  }, 180_000);

  it('an execution started with {} runs on the branch head with default variables', async () => {
    const machine = plan.stateMachines[0];
    if (!machine) throw new Error('no state machine');
    const message = inbox.length;
    const { executionArn } = await startExecution(machine.arn, 'console-start', '{}');
    await approve(message, executions.get(executionArn));
    const outcome = await (executions.get(executionArn) as Execution).done;
    expect(outcome.status).toBe('SUCCEEDED');
    const head = git('rev-parse', 'HEAD');
    await admin.s3.send(new HeadObjectCommand({ Bucket: plan.names.bucket, Key: 'web/console-start/Src/manifest.json' }));
    expect(github.requests).toContain('/repos/acme/web/commits/main');
    expect(github.requests).toContain(`/repos/acme/web/tarball/${head}`);
  }, 180_000);

  it('an execution started with a source revision (start-pipeline-execution --source-revision) builds that commit', async () => {
    const machine = plan.stateMachines[0];
    if (!machine) throw new Error('no state machine');
    const first = git('rev-list', '--max-parents=0', 'HEAD');
    expect(first).not.toBe(git('rev-parse', 'HEAD'));
    const message = inbox.length;
    // The input the AWS backend sends (its unit test checks that it does).
    const input: ExecutionInput = {
      pipeline: 'web',
      trigger: { type: 'StartPipelineExecution', actor: 'ana' },
      source: {},
      variables: {},
      sourceRevisions: [{ actionName: 'Checkout', revisionType: 'COMMIT_ID', revisionValue: first }],
    };
    const { executionArn } = await startExecution(machine.arn, 'pinned-start', JSON.stringify(input));
    await approve(message, executions.get(executionArn));
    expect((await (executions.get(executionArn) as Execution).done).status).toBe('SUCCEEDED');
    expect(github.requests).toContain(`/repos/acme/web/tarball/${first}`);
    // CodeBuild checked that commit out (SourceVersion), and the build after it saw it.
    const tag = await admin.s3.send(new GetObjectCommand({ Bucket: plan.names.bucket, Key: 'web/pinned-start/Stamp/stamp/tag.txt' }));
    expect(await tag.Body?.transformToString()).toBe(`${first}\n`);
  }, 180_000);
});
