/**
 * Approvals against moto_server: the task token kept in S3 with If-None-Match, the approval message
 * delivered by SNS to an HTTP endpoint on localhost, and a POST to its approve (or reject) link
 * completing a state machine in moto that waits for that task token.
 *
 * moto runs `sns:publish.waitForTaskToken` Tasks but not `lambda:invoke.waitForTaskToken`, so the state
 * machine publishes the compiled approval Payload to a bridge topic, and the bridge endpoint invokes the
 * approval request handler with it, as Lambda would. Everything after that is the real path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { approvalIdFor } from '@stepline/core';
import { readBody } from '@stepline/local';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { S3ApprovalStore } from '../packages/functions/src/approvals/store';
import { approvalRequestDependencies, makeApprovalRequestHandler } from '../packages/functions/src/handlers/approval-request';
import { approvalResponseDependencies, makeApprovalResponseHandler } from '../packages/functions/src/handlers/approval-response';
import { SecretCache } from '../packages/functions/src/secrets';
import { httpEvent, lambdaContext, recordingLogger } from './helpers/lambda-events';
import { type MotoServer, motoClientConfig, motoSkipReason, startMoto } from './helpers/moto-server';
import { until } from './helpers/until';

const skip = motoSkipReason();
const KEY = 'moto-link-signing-key';
const BUCKET = 'stepline-approvals';

interface SnsEnvelope {
  Type: string;
  Message: string;
}

describe.skipIf(skip)('approvals on moto_server', () => {
  let moto: MotoServer;
  let server: Server;
  let base: string;
  const approvalMessages: Array<{ approval: { approveUrl: string; rejectUrl: string; pipelineName: string; customData?: string } }> = [];
  const bridged: Array<Promise<unknown>> = [];
  let clients: { s3: S3Client; sns: SNSClient; sfn: SFNClient; sm: SecretsManagerClient };
  let handlers: { request: ReturnType<typeof makeApprovalRequestHandler>; response: ReturnType<typeof makeApprovalResponseHandler> };

  const read = (req: IncomingMessage) => readBody(req, 1024 * 1024);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const body = await read(req);
    if (url.pathname === '/bridge') {
      // The state machine's Task published the approval Payload: invoke the approval request function with it.
      const envelope = JSON.parse(body) as SnsEnvelope;
      bridged.push(handlers.request(JSON.parse(envelope.Message), lambdaContext('stepline-approval')));
      res.end('ok');
      return;
    }
    if (url.pathname === '/inbox') {
      approvalMessages.push(JSON.parse((JSON.parse(body) as SnsEnvelope).Message));
      res.end('ok');
      return;
    }
    // The approval response function behind its Function URL.
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const out = await handlers.response(
      httpEvent({ method: req.method ?? 'GET', headers, body, query: url.search.slice(1) }),
      lambdaContext('stepline-approval-response'),
    );
    res.writeHead(out.statusCode, out.headers as Record<string, string>);
    res.end(out.body);
  }

  beforeAll(async () => {
    moto = await startMoto();
    await moto.configure({ stepfunctions: { execute_state_machine: true } });
    server = createServer((req, res) => {
      route(req, res).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const config = motoClientConfig(moto);
    clients = { s3: new S3Client(config), sns: new SNSClient(config), sfn: new SFNClient(config), sm: new SecretsManagerClient(config) };
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await moto?.stop();
  });

  /** moto 5.2.1 allows one execution per account and region: every test starts from a reset. */
  beforeEach(async () => {
    await moto.reset();
    approvalMessages.length = 0;
    bridged.length = 0;
    await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await clients.sm.send(new CreateSecretCommand({ Name: 'stepline/link-key', SecretString: KEY }));
    const inbox = await clients.sns.send(new CreateTopicCommand({ Name: 'stepline-approvals' }));
    await clients.sns.send(new SubscribeCommand({ TopicArn: inbox.TopicArn, Protocol: 'http', Endpoint: `${base}/inbox` }));
    const env = { LINK_SIGNING_KEY: 'stepline/link-key', APPROVAL_BUCKET: BUCKET, PUBLIC_URL: `${base}/approval`, APPROVAL_TOPIC_ARN: inbox.TopicArn ?? '' };
    const secrets = () => new SecretCache({ secretsManager: async () => clients.sm, ssm: async () => new SSMClient(motoClientConfig(moto)) });
    const store = () => new S3ApprovalStore({ s3: async () => clients.s3, bucket: BUCKET });
    const shared = () => ({ secrets: secrets(), store, logger: recordingLogger().logger });
    handlers = {
      request: makeApprovalRequestHandler({ ...approvalRequestDependencies(env), ...shared(), sns: async () => clients.sns }),
      response: makeApprovalResponseHandler({ ...approvalResponseDependencies(env), ...shared(), sfn: async () => clients.sfn }),
    };
  });

  const payload = (taskToken: string) => ({
    taskToken,
    pipeline: 'web',
    stage: 'Prod',
    action: 'Approve',
    executionId: 'exec-1',
    source: { CommitId: '0123456789abcdef', BranchName: 'main', FullRepositoryName: 'acme/web', ProviderType: 'GitHub' },
    timeoutSeconds: 3600,
    customData: 'Check staging first',
  });

  it('keeps the task token in S3, created with If-None-Match, once however often the request is retried', async () => {
    // Act
    await handlers.request(payload('token-123'), lambdaContext());
    await handlers.request(payload('token-123'), lambdaContext());
    // Assess
    const key = `_stepline/approvals/${approvalIdFor(KEY, 'token-123')}/request.json`;
    const stored = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(JSON.parse((await stored.Body?.transformToString()) ?? '{}')).toMatchObject({ taskToken: 'token-123', pipeline: 'web' });
    await expect(clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{}', IfNoneMatch: '*' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 412 },
    });
    // Both attempts told the approvers, with the same links: the second is a resend, not a second approval.
    await until('two approval messages', () => (approvalMessages.length >= 2 ? true : undefined));
    expect(approvalMessages[0]?.approval.approveUrl).toBe(approvalMessages[1]?.approval.approveUrl);
    expect(JSON.stringify(approvalMessages)).not.toContain('token-123');
  });

  async function runApproval(decision: 'approve' | 'reject'): Promise<DescribeExecutionCommandOutput> {
    // Prepare: a state machine that waits on a task token, as the compiled approval does.
    const bridge = await clients.sns.send(new CreateTopicCommand({ Name: 'approval-bridge' }));
    await clients.sns.send(new SubscribeCommand({ TopicArn: bridge.TopicArn, Protocol: 'http', Endpoint: `${base}/bridge` }));
    const definition = {
      StartAt: 'Prod · Approve',
      States: {
        'Prod · Approve': {
          Type: 'Task',
          Resource: 'arn:aws:states:::sns:publish.waitForTaskToken',
          Parameters: { TopicArn: bridge.TopicArn, Message: { ...payload(''), 'taskToken.$': '$$.Task.Token', taskToken: undefined } },
          ResultSelector: { variables: { 'ApprovedBy.$': '$.approvedBy', 'Comment.$': '$.comment' } },
          ResultPath: '$.approval',
          TimeoutSeconds: 3600,
          End: true,
        },
      },
    };
    const machine = await clients.sfn.send(
      new CreateStateMachineCommand({ name: 'stepline-web', definition: JSON.stringify(definition), roleArn: 'arn:aws:iam::123456789012:role/stepline' }),
    );
    const execution = await clients.sfn.send(new StartExecutionCommand({ stateMachineArn: machine.stateMachineArn, name: 'delivery-1', input: '{}' }));

    // Act: the approver gets the message, opens the link (GET never decides), then confirms (POST).
    const message = await until('the approval message', () => approvalMessages[0]);
    await Promise.all(bridged);
    expect(message.approval).toMatchObject({ pipelineName: 'web', customData: 'Check staging first' });
    const link = decision === 'approve' ? message.approval.approveUrl : message.approval.rejectUrl;
    expect(link.startsWith(`${base}/approval?token=`)).toBe(true);
    const pageResponse = await fetch(link);
    expect(pageResponse.status).toBe(200);
    const page = await pageResponse.text();
    expect(page).toContain('Check staging first');
    const running = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
    expect(running.status).toBe('RUNNING');
    const action = /<form method="post" action="([^"]+)">/.exec(page)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const token = /name="token" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const decided = await fetch(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, email: 'ada@example.com', comment: decision === 'approve' ? 'Ship it' : 'Not yet' }).toString(),
    });
    expect(decided.status).toBe(200);
    // A second use of the link decides nothing more.
    expect((await fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` })).status).toBe(
      409,
    );

    return until('the execution to end', async () => {
      const d = await clients.sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
      return d.status === 'RUNNING' ? undefined : d;
    });
  }

  it('completes the waiting state machine when the approve link is POSTed', async () => {
    const done = await runApproval('approve');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '{}')).toStrictEqual({ approval: { variables: { ApprovedBy: 'ada@example.com', Comment: 'Ship it' } } });
  });

  it('fails it with Stepline.ApprovalRejected when the reject link is POSTed', async () => {
    const done = await runApproval('reject');
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Stepline.ApprovalRejected');
    // moto 5.2.1 keeps SendTaskFailure's error but drops its cause; the unit tests check the cause.
    const history = await clients.sfn.send(new GetExecutionHistoryCommand({ executionArn: done.executionArn }));
    expect(history.events?.find((e) => e.type === 'TaskFailed')?.taskFailedEventDetails).toMatchObject({ error: 'Stepline.ApprovalRejected' });
  });
});
