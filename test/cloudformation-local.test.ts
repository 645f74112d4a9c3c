/**
 * A CloudFormation action on one machine, run by `stepline run`: the compiled wait loop deploying with
 * the user's credentials (here pointed at moto_server's CloudFormation with `AWS_ENDPOINT_URL`; never
 * real AWS), its local command, or a one-line refusal without credentials.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormation } from '@aws-sdk/client-cloudformation';
import { parsePipelineText } from '@stepline/core';
import { compileForThisMachine, LocalRuntime } from '@stepline/local';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MotoServer, motoSkipReason, startMoto } from './helpers/moto-server';
import { createProject, type Project, pipelineYaml, runCli } from './helpers/project';

let project: Project | undefined;
afterEach(() => project?.remove());

const pipeline = (extra: string, after = '') => `
name: infra
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/infra, outputArtifacts: [Src] }]
  - name: Deploy
    actions: [{ name: Stack, kind: cloudformation, inputArtifacts: [Src], actionMode: CREATE_UPDATE, stackName: web, templatePath: "Src::stack.yml"${extra} }]
${after}`;
/** No credential source the AWS SDK would find: no keys, no profile files, no instance metadata. */
const noCredentials = {
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_PROFILE: '',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_CONFIG_FILE: '/nonexistent/config',
  AWS_WEB_IDENTITY_TOKEN_FILE: '',
  AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
};

describe('cloudformation on one machine', () => {
  it('refuses in one line without AWS credentials, saying what it needs', async () => {
    project = createProject({ 'stepline.yml': pipeline(''), 'stack.yml': 'Resources: {}\n' });
    const run = await runCli(['run'], { cwd: project.dir, env: noCredentials, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'action Stack deploys the CloudFormation stack web; on one machine it needs your AWS credentials (none found: environment, AWS_PROFILE, SSO or instance role) or a local.command',
    );
  }, 90_000);

  it('runs local.command in its place', async () => {
    project = createProject({ 'stack.yml': 'Resources: {}\n' });
    project.write('stepline.yml', pipeline(`, local: { command: "cp stack.yml '${join(project.dir, 'deployed.yml')}'" }`));
    project.commitAll('pipeline');
    const run = await runCli(['run'], { cwd: project.dir, env: noCredentials, timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/✔ Deploy · Stack succeeded in/);
    expect(readFileSync(join(project.dir, 'deployed.yml'), 'utf8')).toBe('Resources: {}\n');
  }, 90_000);
});

const skip = motoSkipReason();
const TEMPLATE = `Parameters:
  Env: { Type: String }
  Image: { Type: String }
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "web-\${Env}"
      Tags: [{ Key: image, Value: !Ref Image }]
Outputs:
  QueueName: { Value: !GetAtt Queue.QueueName }
  Image: { Value: !Ref Image }
`;

describe.skipIf(skip)('cloudformation on one machine, deploying with the user’s credentials (moto_server)', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(() => moto?.stop());
  beforeEach(() => moto.reset());
  const credentials = () => ({ ...noCredentials, AWS_ACCESS_KEY_ID: 'AKIDLOCALUSER', AWS_SECRET_ACCESS_KEY: 'secret', AWS_ENDPOINT_URL: moto.endpoint });

  it('creates the stack with the template configuration and Fn::GetParam, writes the outputs file, and passes outputs on as variables', async () => {
    project = createProject({
      'stack.yml': TEMPLATE,
      'config/prod.json': JSON.stringify({ Parameters: { Env: 'beta', Image: 'nginx:1' }, Tags: { team: 'web' } }),
      'build/image.json': JSON.stringify({ uri: 'registry/web:42' }),
      'stepline.yml': pipeline(
        `, namespace: StackOut, outputArtifacts: [Outputs], outputFileName: outputs.json, templateConfiguration: "Src::config/prod.json", parameterOverrides: { Env: prod, Image: '{"Fn::GetParam": ["Src", "build/image.json", "uri"]}' }`,
        `  - name: Use
    actions: [{ name: Read, kind: invoke, inputArtifacts: [Outputs], command: "cat outputs.json; echo queue=$USER_PARAMETERS", userParameters: "#{StackOut.QueueName}" }]
`,
      ),
    });
    const run = await runCli(['run'], { cwd: project.dir, env: credentials(), timeoutMs: 80_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Stack: deploying stack web to your AWS account in us-east-1 with access key …USER at ${moto.endpoint}`);
    expect(run.stdout).toMatch(/✔ Deploy · Stack succeeded in/);
    const logged = readFileSync(join(project.dir, '.stepline', 'logs', run.stdout.match(/execution (\S+)/)?.[1] ?? '', 'Use.Read.log'), 'utf8');
    // The log's first line says how the command's processes were kept together; its output follows.
    expect(logged).toMatch(/^Command processes run in /);
    const log = logged.slice(logged.indexOf('\n') + 1);
    expect(JSON.parse(log.slice(0, log.indexOf('queue=')))).toStrictEqual({ QueueName: 'web-prod', Image: 'registry/web:42' });
    expect(log).toContain('queue=web-prod');
    // The overrides win over the configuration's Parameters; its Tags go on the stack.
    const cfn = new CloudFormation({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const [stack] = (await cfn.describeStacks({ StackName: 'web' })).Stacks ?? [];
    expect(stack?.Parameters?.map((p) => [p.ParameterKey, p.ParameterValue]).sort()).toStrictEqual([
      ['Env', 'prod'],
      ['Image', 'registry/web:42'],
    ]);
    expect(stack?.Tags).toStrictEqual([{ Key: 'team', Value: 'web' }]);
  }, 100_000);

  it('plans a change set, executes it, and deletes the stack, in the local runtime with the waits shortened', async () => {
    project = createProject({ 'stack.yml': TEMPLATE, 'image.json': '{"uri": "nginx:2"}' });
    const pipeline = parsePipelineText(
      pipelineYaml(
        'infra',
        `  - name: Plan
    actions: [{ name: Stack, kind: cloudformation, inputArtifacts: [Src], actionMode: CHANGE_SET_REPLACE, stackName: web, changeSetName: next, templatePath: "Src::stack.yml", parameterOverrides: { Env: beta, Image: '{"Fn::GetParam": ["Src", "image.json", "uri"]}' } }]
  - name: Apply
    actions: [{ name: Stack, kind: cloudformation, namespace: Applied, outputArtifacts: [Outputs], outputFileName: outputs.json, actionMode: CHANGE_SET_EXECUTE, stackName: web, changeSetName: next }]`,
      ),
    );
    const waits = Object.keys(compileForThisMachine(pipeline).stateMap).filter((n) => n.endsWith(' wait'));
    const saved = { ...process.env };
    Object.assign(process.env, credentials());
    const lines: string[] = [];
    const runtime = new LocalRuntime({
      project: project.dir,
      sink: { line: (l) => lines.push(l) },
      waitTimeOverrides: Object.fromEntries(waits.map((n) => [n, 0])),
    });
    const cfn = new CloudFormation({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const result = await runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
      expect(result).toMatchObject({ status: 'Succeeded' });
      const outputs = readFileSync(join(runtime.artifacts.dir('infra', result.executionId, 'Outputs'), 'outputs.json'), 'utf8');
      // moto leaves Outputs out of a stack made by a CREATE change set (docs/testing.md): the file is the empty object.
      expect(JSON.parse(outputs)).toStrictEqual({});
      // The change set carried the overrides, Fn::GetParam read from the source.
      const [stack] = (await cfn.describeStacks({ StackName: 'web' })).Stacks ?? [];
      expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
      expect(stack?.Parameters?.find((p) => p.ParameterKey === 'Image')?.ParameterValue).toBe('nginx:2');
      const teardown = parsePipelineText(
        pipelineYaml('teardown', '  - name: Teardown\n    actions: [{ name: Stack, kind: cloudformation, actionMode: DELETE_ONLY, stackName: web }]'),
      );
      expect(await runtime.run({ pipeline: teardown, file: 'teardown.yml', repo: project.dir })).toMatchObject({ status: 'Succeeded' });
      await expect(cfn.describeStacks({ StackName: 'web' })).rejects.toThrow('does not exist');
      expect(lines.filter((l) => l.includes('deploying stack web'))).toHaveLength(3);
    } finally {
      await runtime.close();
      process.env = saved;
    }
  }, 60_000);
});
