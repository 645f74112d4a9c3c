/**
 * The CloudFormation action's compiled machine, run in aws-local-stepfunctions with each
 * `aws-sdk:cloudformation:*` Task answered by moto_server's CloudFormation (its Query API, as the SDK
 * integration calls it), the prepare and outputs Tasks by the real cloudformation function reading and
 * writing moto's S3, and the template read from moto's S3: the calls, their parameters, the outputs
 * and change sets as a real API model takes them. What moto does not model (statuses in progress,
 * failures, "no updates") is in cloudformation-asl.test.ts; see docs/testing.md.
 */
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { compilePipeline, type ExecutionInput, parsePipelineText } from '@stepline/core';
import { taskStateNames } from '@stepline/local';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCloudFormationHandler } from '../packages/functions/src/handlers/cloudformation';
import { functionLogger } from '../packages/functions/src/runtime';
import { storeArtifact } from '../packages/functions/src/source/store';
import { type MotoServer, motoClientConfig, motoSkipReason, startMoto } from './helpers/moto-server';
import { runStubbed } from './helpers/stub-handlers';

const skip = motoSkipReason();
const input: ExecutionInput = { pipeline: 'infra', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} };
const TEMPLATE = JSON.stringify({
  Parameters: { Env: { Type: 'String' } },
  // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's ${} syntax
  Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': 'web-${Env}' } } } },
  Outputs: { QueueName: { Value: { 'Fn::GetAtt': ['Queue', 'QueueName'] } } },
});

/** Query-API form fields of a JSON value: `Parameters.member.1.ParameterKey=…`, as the AWS SDKs send them. */
function formFields(value: unknown, prefix: string, out: URLSearchParams): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) formFields(v, `${prefix}.member.${i + 1}`, out);
  } else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) formFields(v, prefix ? `${prefix}.${k}` : k, out);
  else out.append(prefix, String(value));
}

/** `<Stacks><member>…</member></Stacks>` → `Stacks: [...]`, as the SDK integration answers. */
function unwrap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrap);
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && entries[0]?.[0] === 'member') return unwrap(entries[0][1]);
  return Object.fromEntries(entries.map(([k, v]) => [k, unwrap(v)]));
}

describe.skipIf(skip)('CloudFormation action against moto_server', () => {
  let moto: MotoServer;
  const xml = new XMLParser({ isArray: (name) => name === 'member', parseTagValue: false });

  /** One CloudFormation API call the way the SDK integration makes it; a refusal fails the Task with CloudFormation's message. */
  const cloudFormation = (api: string) => async (params: unknown) => {
    const body = new URLSearchParams({ Action: api.charAt(0).toUpperCase() + api.slice(1), Version: '2010-05-15' });
    formFields(params, '', body);
    const response = await fetch(`${moto.endpoint}/`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        // moto_server picks the service from the credential scope; it checks no signature here.
        authorization: 'AWS4-HMAC-SHA256 Credential=testing/20261204/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0',
      },
    });
    const parsed = xml.parse(await response.text()) as Record<string, Record<string, unknown>>;
    if (!response.ok) {
      const error = (parsed.ErrorResponse?.Error ?? {}) as { Code?: string; Message?: string };
      throw Object.assign(new Error(error.Message ?? 'refused'), { name: `CloudFormation.${error.Code ?? 'CloudFormationException'}` });
    }
    return unwrap(parsed[`${body.get('Action')}Response`]?.[`${body.get('Action')}Result`] ?? {});
  };

  let s3: S3Client;
  const cloudFormationFunction = () => {
    const handler = createCloudFormationHandler({ s3: () => s3, region: 'us-east-1', logger: functionLogger('cloudformation-test') });
    return async (input: unknown) => ({ Payload: await handler((input as { Payload: unknown }).Payload) });
  };

  async function run(deploy: string, artifacts = '[Src]') {
    const compiled = compilePipeline(
      parsePipelineText(`
name: infra
stages:
  - name: Source
    actions:
      - { name: Checkout, kind: source, repository: acme/infra, outputArtifacts: [Src] }
      - { name: Images, kind: source, repository: acme/images, outputArtifacts: [Built] }
  - name: Deploy
    actions: [{ name: Stack, kind: cloudformation, namespace: Out, inputArtifacts: ${artifacts}, stackName: web, ${deploy} }]
`),
      { target: 'aws', region: 'us-east-1', accountId: '123456789012' },
    );
    const overrides: Record<string, (input: unknown) => unknown> = {};
    for (const name of taskStateNames(compiled.definition)) {
      const state = compiled.definition.States[name] as { Resource?: string } | undefined;
      const api = state?.Resource?.match(/^arn:aws:states:::aws-sdk:cloudformation:(\w+)$/)?.[1];
      if (api) overrides[name] = cloudFormation(api);
      if (name === 'Deploy · Stack · prepare' || name === 'Deploy · Stack · outputs file') overrides[name] = cloudFormationFunction();
    }
    const { outcome, calls } = await runStubbed(compiled, overrides, input);
    return { outcome, calls: calls.map((c) => c.state).filter((s) => s.startsWith('Deploy · Stack ·')) };
  }
  const describeStack = async () => (await cloudFormation('describeStacks')({ StackName: 'web' })) as { Stacks: Array<Record<string, unknown>> };

  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(() => moto?.stop());
  beforeEach(async () => {
    await moto.reset();
    s3 = new S3Client(motoClientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: 'stepline-artifacts' }));
  });

  /** An artifact of execution exec-1 as the source function stores it: the files, then their manifest. */
  const store = (artifact: string, files: Record<string, string>) =>
    storeArtifact({ s3, bucket: 'stepline-artifacts', pipeline: 'infra', executionId: 'exec-1', artifact }, async () =>
      Object.entries(files).map(([path, body]) => ({ path, data: new TextEncoder().encode(body) })),
    );
  const storeSource = (files: Record<string, string> = {}) => store('Src', { 'stack.json': TEMPLATE, ...files });

  it('CREATE_UPDATE creates the stack from the artifact’s template with the parameters, and keeps its outputs', async () => {
    await storeSource();
    const { outcome, calls } = await run('actionMode: CREATE_UPDATE, templatePath: "Src::stack.json", parameterOverrides: { Env: prod }');
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(calls).toStrictEqual(['Deploy · Stack · prepare', 'Deploy · Stack · look', 'Deploy · Stack · create', 'Deploy · Stack · stack status']);
    const [stack] = (await describeStack()).Stacks;
    expect(stack).toMatchObject({ StackStatus: 'CREATE_COMPLETE', Outputs: [{ OutputKey: 'QueueName', OutputValue: 'web-prod' }] });
    const output = (outcome as { output: { actions: Record<string, { stack: { stack: { Outputs: unknown } } }> } }).output;
    expect(output.actions.Deploy_Stack?.stack.stack.Outputs).toStrictEqual([{ OutputKey: 'QueueName', OutputValue: 'web-prod' }]);
  });

  it('reads the template configuration and Fn::GetParam from the artifacts, resolves Fn::GetArtifactAtt, and writes the outputs file', async () => {
    const template = JSON.parse(TEMPLATE) as { Parameters: Record<string, unknown> };
    template.Parameters.Code = { Type: 'String' };
    await storeSource({
      'config.json': JSON.stringify({ Parameters: { Env: 'beta', Code: 'x' }, Tags: { team: 'web' }, StackPolicy: { Statement: [] } }),
      'code-stack.json': JSON.stringify(template),
    });
    await store('Built', { 'image.json': JSON.stringify({ env: 'prod' }) });
    const { outcome } = await run(
      `actionMode: CREATE_UPDATE, templatePath: "Src::code-stack.json", templateConfiguration: "Src::config.json", outputArtifacts: [StackOut], outputFileName: out/outputs.json,
       parameterOverrides: { Env: '{"Fn::GetParam": ["Built", "image.json", "env"]}', Code: '{"Fn::GetArtifactAtt": ["Built", "ObjectKey"]}' }`,
      '[Src, Built]',
    );
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    const [stack] = (await describeStack()).Stacks;
    expect(stack).toMatchObject({
      StackStatus: 'CREATE_COMPLETE',
      Parameters: expect.arrayContaining([
        { ParameterKey: 'Env', ParameterValue: 'prod' },
        { ParameterKey: 'Code', ParameterValue: 'infra/exec-1/Built/' },
      ]),
      Tags: [{ Key: 'team', Value: 'web' }],
    });
    const file = await s3.send(new GetObjectCommand({ Bucket: 'stepline-artifacts', Key: 'infra/exec-1/StackOut/out/outputs.json' }));
    expect(JSON.parse(await (file.Body?.transformToString() ?? ''))).toStrictEqual({ QueueName: 'web-prod' });
  });

  it('fails naming the file when a Fn::GetParam key is missing', async () => {
    await storeSource();
    const { outcome } = await run(
      'actionMode: CREATE_UPDATE, templatePath: "Src::stack.json", parameterOverrides: { Env: \'{"Fn::GetParam": ["Src", "stack.json", "Nope"]}\' }',
    );
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'Stepline.ArtifactInvalid' });
    expect((outcome as { cause: string }).cause).toContain('parameterOverrides.Env: Src::stack.json has no key Nope (Fn::GetParam)');
  });

  it('CHANGE_SET_REPLACE then CHANGE_SET_EXECUTE: a CREATE change set, executed', async () => {
    await storeSource();
    const planned = await run('actionMode: CHANGE_SET_REPLACE, changeSetName: plan, templatePath: "Src::stack.json", parameterOverrides: { Env: beta }');
    expect(planned.outcome.status).toBe('SUCCEEDED');
    expect((await describeStack()).Stacks[0]?.StackStatus).toBe('REVIEW_IN_PROGRESS');
    const executed = await run('actionMode: CHANGE_SET_EXECUTE, changeSetName: plan');
    expect(executed.outcome.status).toBe('SUCCEEDED');
    expect(executed.calls).toContain('Deploy · Stack · execute');
    // moto leaves Outputs out of a stack made by executing a change set (docs/testing.md).
    expect((await describeStack()).Stacks[0]).toMatchObject({ StackStatus: 'CREATE_COMPLETE', Parameters: [{ ParameterKey: 'Env', ParameterValue: 'beta' }] });
  });

  it('DELETE_ONLY deletes the stack and ends when it is gone', async () => {
    await storeSource();
    expect((await run('actionMode: CREATE_UPDATE, templatePath: "Src::stack.json", parameterOverrides: { Env: prod }')).outcome.status).toBe('SUCCEEDED');
    const deleted = await run('actionMode: DELETE_ONLY');
    expect(deleted.outcome.status).toBe('SUCCEEDED');
    await expect(describeStack()).rejects.toThrow('does not exist');
  });
});
