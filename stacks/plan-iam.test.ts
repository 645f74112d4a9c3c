/**
 * The installation's planned policies against the requests its functions and projects make on AWS,
 * evaluated by an IAM simulator. What moto_server cannot show is checked here: S3's 403 for a missing key
 * without `s3:ListBucket`, the task-set resource type of ECS, CodeConnections' actions, and IAM's limit
 * on a role's inline policies.
 */
import { join } from 'node:path';
import { ControlPrefix, type Pipeline, parsePipeline, parsePipelineText } from '@stepline/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkRequests, describeDenials, type IamRequest, type IamStatementLike } from '../test/helpers/iam-check';
import { pipelineYaml } from '../test/helpers/project';
import { inlinePolicySize, MAX_INLINE_POLICY_CHARS } from './iam';
import { loadPipelines } from './pipelines';
import type { InstallationPlan } from './plan';
import { planFor, TEST_ACCOUNT, TEST_REGION } from './plan-fixture';

const REGION = TEST_REGION;
const ACCOUNT = TEST_ACCOUNT;
let plan: InstallationPlan;
let pipelines: Pipeline[];

/** The pipeline `name`: its source `acme/<name>` as `Src`, then `stage`. */
const afterSource = (name: string, stage: Record<string, unknown>) =>
  parsePipeline({
    name,
    stages: [{ name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: `acme/${name}`, outputArtifacts: ['Src'] }] }, stage],
  });

/** The web fixture as the pipeline `name`: its source `acme/<name>` as `Src`, then a Build stage of one build action reading it. */
const buildPipeline = (name: string, build: Record<string, unknown>) =>
  parsePipeline({
    ...pipelines.find((p) => p.name === 'web'),
    name,
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: `acme/${name}`, outputArtifacts: ['Src'] }] },
      { name: 'Build', actions: [{ kind: 'build', inputArtifacts: ['Src'], ...build }] },
    ],
  });

beforeAll(() => {
  pipelines = loadPipelines(join(import.meta.dirname, 'fixtures/pipelines')).map((p) => p.pipeline);
  plan = planFor(pipelines);
});

const statementsOf = (principal: string) => {
  const fn = Object.values(plan.functions).find((f) => f.key === principal);
  if (fn) return fn.statements;
  const project = plan.projects.find((p) => p.name === principal);
  if (project) return project.statements;
  throw new Error(`no function or project ${principal}`);
};

describe('planned policies, simulated', () => {
  it('every read of a key that may not exist yet is allowed to find it missing (s3:ListBucket), or S3 answers 403', async () => {
    const bucket = `arn:aws:s3:::${plan.names.bucket}`;
    const requests: IamRequest[] = [
      { principal: 'gate', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.gates}web.json`, mayBeMissing: true },
      { principal: 'gate', action: 's3:PutObject', resource: `${bucket}/${ControlPrefix.gates}web.json` },
      { principal: 'approval-request', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.approvals}a1.json`, mayBeMissing: true },
      { principal: 'approval-response', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.approvals}a1.decision.json`, mayBeMissing: true },
      { principal: 'canary', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.deployments}web/e1/Deploy/Canary.json`, mayBeMissing: true },
      { principal: 'canary', action: 's3:ListBucket', resource: bucket, context: { 's3:prefix': `${ControlPrefix.deployments}web/e1/` } },
      { principal: 'canary', action: 's3:GetObject', resource: `${bucket}/web/e1/App/manifest.json`, mayBeMissing: true },
      { principal: 'source', action: 's3:GetObject', resource: `${bucket}/web/e1/Src/manifest.json`, mayBeMissing: true },
      { principal: 'source', action: 's3:PutObject', resource: `${bucket}/web/e1/Src/src/index.ts` },
    ];
    expect(describeDenials(await checkRequests(statementsOf, requests))).toBe('');
  });

  it('the canary may create and delete task sets (task-set resource type) and move the primary (service)', async () => {
    const service = `arn:aws:ecs:${REGION}:${ACCOUNT}:service/prod/web`;
    const taskSet = `arn:aws:ecs:${REGION}:${ACCOUNT}:task-set/prod/web/ecs-svc/123`;
    const requests: IamRequest[] = [
      { principal: 'canary', action: 'ecs:CreateTaskSet', resource: taskSet },
      { principal: 'canary', action: 'ecs:DeleteTaskSet', resource: taskSet },
      { principal: 'canary', action: 'ecs:UpdateServicePrimaryTaskSet', resource: service },
      { principal: 'canary', action: 'ecs:DescribeTaskSets', resource: taskSet },
    ];
    expect(describeDenials(await checkRequests(statementsOf, requests))).toBe('');
  });

  it('a project with a CodeConnections source may read the connection and get its token', async () => {
    const project = plan.projects.find((p) => p.action === 'Compile');
    if (!project) throw new Error('no Compile project');
    const connection = 'arn:aws:codeconnections:eu-west-1:123456789012:connection/abc';
    const requests: IamRequest[] = ['GetConnection', 'GetConnectionToken', 'UseConnection'].map((a) => ({
      principal: project.name,
      action: `codeconnections:${a}`,
      resource: connection,
    }));
    // A folder source (an artifact prefix) is listed to be downloaded.
    requests.push({ principal: project.name, action: 's3:ListBucket', resource: `arn:aws:s3:::${plan.names.bucket}`, context: { 's3:prefix': 'web/e1/Src/' } });
    expect(describeDenials(await checkRequests(statementsOf, requests))).toBe('');
  });

  it('a project may read its PARAMETER_STORE and SECRETS_MANAGER variables and its inline buildspec’s, and nothing else of SSM or Secrets Manager', async () => {
    const pipeline = buildPipeline('vars', {
      name: 'Compile',
      // An inline buildspec (as an imported project's BuildSpec) is known at deploy time: its env is granted too.
      buildspec:
        'version: 0.2\nenv:\n  parameter-store: { API_KEY: /prod/api-key }\n  secrets-manager: { PASS: "db-pass:password" }\nphases: { build: { commands: [make] } }\n',
      parameterStore: { DB_URL: '/prod/db-url', REGION_NAME: 'plain-name' },
      secretsManager: { TOKEN: 'gh-token:token::', KEY: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:deploy-key-AbC123:key::` },
    });
    const withVars = planFor([pipeline]);
    const project = withVars.projects.find((p) => p.pipeline === 'vars' && p.action === 'Compile');
    if (!project) throw new Error('no Compile project');
    const of = () => project.statements;
    const ssm = (name: string) => ({ principal: project.name, action: 'ssm:GetParameters', resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}` });
    const secret = (name: string) => ({
      principal: project.name,
      action: 'secretsmanager:GetSecretValue',
      resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`,
    });
    const allowed = [
      ssm('/prod/db-url'),
      ssm('/plain-name'),
      ssm('/prod/api-key'),
      secret('gh-token-Xy12Zw'),
      secret('deploy-key-AbC123'),
      secret('db-pass-Q1w2E3'),
    ];
    expect(describeDenials(await checkRequests(of, allowed))).toBe('');
    const denied = await checkRequests(of, [ssm('/prod/other'), secret('other-Xy12Zw')]);
    expect(denied).toHaveLength(2);
  });

  it('the canary may publish versions of, and move the alias of, exactly the functions Lambda deploy actions name', async () => {
    const pipeline = afterSource('orders', {
      name: 'Deploy',
      actions: [
        {
          name: 'Shift',
          kind: 'deploy',
          inputArtifacts: ['Src'],
          strategy: 'CodeDeployDefault.LambdaCanary10Percent5Minutes',
          lambda: { functionName: 'orders', alias: 'live' },
          hooks: { AfterAllowTraffic: 'orders-smoke' },
        },
      ],
    });
    const withLambda = planFor([pipeline]);
    const of = () => withLambda.functions.canary.statements;
    const fn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    // What LambdaAliasEnvironment, LambdaAliasRouter and LambdaHooks call, on the resources they name.
    const calls = (name: string): IamRequest[] => [
      ...['GetAlias', 'CreateAlias', 'UpdateAlias', 'DeleteAlias', 'PublishVersion'].map((a) => ({
        principal: 'canary',
        action: `lambda:${a}`,
        resource: fn(name),
      })),
      { principal: 'canary', action: 'lambda:GetFunctionConfiguration', resource: `${fn(name)}:7` },
    ];
    expect(
      describeDenials(await checkRequests(of, [...calls('orders'), { principal: 'canary', action: 'lambda:InvokeFunction', resource: fn('orders-smoke') }])),
    ).toBe('');
    expect(await checkRequests(of, calls('billing'))).toHaveLength(6);

    // Without a function name, the appspec names it at deploy time: any function of the account and region, with the reason.
    const fromAppSpec = parsePipeline({
      ...pipeline,
      name: 'appspec',
      stages: pipeline.stages.map((st) => ({ ...st, actions: st.actions.map((a) => (a.kind === 'deploy' ? { ...a, lambda: {} } : a)) })),
    });
    const statements = planFor([fromAppSpec]).functions.canary.statements;
    expect(statements.find((st) => st.Action.includes('lambda:UpdateAlias'))).toMatchObject({ Sid: 'LambdaFromAppSpec', Resource: [fn('*'), `${fn('*')}:*`] });
    expect(describeDenials(await checkRequests(() => statements, calls('billing')))).toBe('');
    // Its Hooks too are named only then: the canary may invoke them, and only the deployment reading an appspec gets that.
    const hookCall = { principal: 'canary', action: 'lambda:InvokeFunction', resource: fn('billing-pre-traffic') };
    expect(describeDenials(await checkRequests(() => statements, [hookCall]))).toBe('');
    expect(await checkRequests(of, [hookCall])).toHaveLength(1);
  });

  it('a batch action: the state machine starts, watches and stops the batch; CodeBuild runs its builds with a batch role of its own', async () => {
    const pipeline = buildPipeline('batch', { name: 'Matrix', batchEnabled: true, combineArtifacts: true, outputArtifacts: ['All'] });
    const batchPlan = planFor([pipeline]);
    const project = batchPlan.projects.find((p) => p.action === 'Matrix');
    const machine = batchPlan.stateMachines.find((m) => m.pipeline.name === 'batch');
    if (!project?.batch || !machine) throw new Error('no batch project or state machine');
    expect(project.batch.combineArtifacts).toBe(true);
    const projectArn = `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${project.name}`;
    const rule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventForCodeBuildStartBuildBatchRule`;
    const machineRequests: IamRequest[] = [
      ...['codebuild:StartBuildBatch', 'codebuild:BatchGetBuildBatches', 'codebuild:StopBuildBatch'].map((action) => ({
        principal: 'machine',
        action,
        resource: projectArn,
      })),
      ...['events:PutTargets', 'events:PutRule', 'events:DescribeRule'].map((action) => ({ principal: 'machine', action, resource: rule })),
    ];
    expect(describeDenials(await checkRequests(() => machine.statements, machineRequests))).toBe('');
    const batchRequests = ['codebuild:StartBuild', 'codebuild:StopBuild', 'codebuild:RetryBuild'].map((action) => ({
      principal: 'batch',
      action,
      resource: projectArn,
    }));
    expect(describeDenials(await checkRequests(() => project.batch?.statements ?? [], batchRequests))).toBe('');
    // The builds themselves may not start builds, nor may the batch role start another project's.
    expect(await checkRequests(() => project.statements, [{ principal: project.name, action: 'codebuild:StartBuild', resource: projectArn }])).toHaveLength(1);
    const other = `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/other`;
    expect(await checkRequests(() => project.batch?.statements ?? [], [{ principal: 'batch', action: 'codebuild:StartBuild', resource: other }])).toHaveLength(
      1,
    );
    expect(await checkRequests(() => machine.statements, [{ principal: 'machine', action: 'codebuild:StartBuild', resource: projectArn }])).toHaveLength(1);
  });

  it('a CloudFormation action: its function reads its inputs and writes its outputs file, its machine deploys the stack from the template', async () => {
    const infra = parsePipelineText(
      pipelineYaml(
        'infra',
        `  - name: Deploy
    actions: [{ name: Stack, kind: cloudformation, actionMode: CREATE_UPDATE, stackName: web, templatePath: "Src::stack.yml", inputArtifacts: [Src], outputArtifacts: [Out], outputFileName: outputs.json }]`,
      ),
    );
    const planned = planFor([infra]);
    const machine = planned.stateMachines[0];
    if (!machine) throw new Error('no state machine');
    const of = (principal: string) => (principal === machine.name ? machine.statements : planned.functions.cloudformation.statements);
    const bucket = `arn:aws:s3:::${planned.names.bucket}`;
    const fn = 'cloudformation';
    const requests: IamRequest[] = [
      { principal: fn, action: 's3:GetObject', resource: `${bucket}/infra/e1/Src/manifest.json`, mayBeMissing: true },
      { principal: fn, action: 's3:GetObject', resource: `${bucket}/infra/e1/Src/config/prod.json`, mayBeMissing: true },
      { principal: fn, action: 's3:PutObject', resource: `${bucket}/infra/e1/Out/outputs.json` },
      // CloudFormation reads the TemplateURL with the caller's (the machine's) permissions.
      { principal: machine.name, action: 's3:GetObject', resource: `${bucket}/infra/e1/Src/stack.yml` },
      { principal: machine.name, action: 'lambda:InvokeFunction', resource: planned.functions.cloudformation.arn },
      ...['CreateStack', 'UpdateStack', 'DescribeStacks', 'CreateChangeSet', 'ExecuteChangeSet'].map((a) => ({
        principal: machine.name,
        action: `cloudformation:${a}`,
        resource: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/web/1a2b`,
      })),
    ];
    expect(describeDenials(await checkRequests(of, requests))).toBe('');
    const denied = await checkRequests(of, [{ principal: fn, action: 's3:GetObject', resource: `${bucket}/web/e1/Src/stack.yml` }]);
    expect(denied).toHaveLength(1);
  });

  it('a connection with a codestar-connections ARN is granted under that prefix', () => {
    const pipeline = parsePipeline({
      ...pipelines.find((p) => p.name === 'web'),
      name: 'old',
      stages: [
        {
          name: 'Source',
          actions: [
            {
              name: 'Checkout',
              kind: 'source',
              repository: 'acme/old',
              connectionArn: 'arn:aws:codestar-connections:eu-west-1:123456789012:connection/x',
              outputArtifacts: ['Src'],
            },
          ],
        },
        { name: 'Build', actions: [{ name: 'Compile', kind: 'build', inputArtifacts: ['Src'] }] },
      ],
    });
    const old = planFor([pipeline]);
    expect(old.projects[0]?.statements.flatMap((s) => s.Action)).toEqual(
      expect.arrayContaining(['codestar-connections:GetConnection', 'codestar-connections:GetConnectionToken', 'codestar-connections:UseConnection']),
    );
  });

  it('the plan refuses a role whose inline policies pass IAM’s 10,240 characters, saying what to split', () => {
    const web = pipelines.find((p) => p.name === 'web') as Pipeline;
    const alarms = Array.from({ length: 400 }, (_, i) => `web-alarm-with-a-long-name-${i}`);
    const hooks = Object.fromEntries(
      ['BeforeInstall', 'AfterInstall', 'AfterAllowTestTraffic', 'BeforeAllowTraffic', 'AfterAllowTraffic'].map((h) => [h, `hook-${h}`]),
    );
    const deploys = Array.from({ length: 40 }, (_, i) => ({
      name: `Canary${i}`,
      kind: 'deploy',
      inputArtifacts: ['Src'],
      alarms: alarms.slice(i * 10, i * 10 + 10),
      hooks,
      ecs: {
        cluster: `cluster-${i}`,
        service: `service-with-a-long-name-${i}`,
        containerName: 'web',
        containerPort: 8080,
        listenerArn: `arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web-${i}/1/2`,
        targetGroups: {
          blue: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/b/1',
          green: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g/2',
        },
        subnets: ['subnet-1'],
        securityGroups: ['sg-1'],
      },
    }));
    const big = parsePipeline({
      name: 'big',
      stages: [web.stages[0], { name: 'Deploy', actions: deploys }],
    });
    expect(() => planFor([big])).toThrow(
      /the role of the canary function \(stepline-team-canary\) needs \d+ characters of inline policy; IAM allows 10240: install the pipelines that deploy to different ECS services as separate installations/,
    );
  });

  it('the fixture installation fits IAM’s inline policy limit, with room', () => {
    for (const fn of Object.values(plan.functions)) expect(inlinePolicySize(fn.statements)).toBeLessThan(MAX_INLINE_POLICY_CHARS / 2);
    for (const machine of plan.stateMachines) expect(inlinePolicySize(machine.compiled.iam)).toBeLessThan(MAX_INLINE_POLICY_CHARS / 2);
  });

  it('an ECR source, a Step Functions action and an image push rule may do what they do, and no more', async () => {
    const target = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:release`;
    const images = parsePipeline({
      name: 'images',
      stages: [
        { name: 'Source', actions: [{ name: 'Image', kind: 'source', provider: 'ECR', repository: 'team/web', outputArtifacts: ['Img'] }] },
        {
          name: 'Run',
          actions: [{ name: 'Flow', kind: 'stepfunctions', stateMachineArn: target, inputType: 'FilePath', input: 'in.json', inputArtifacts: ['Img'] }],
        },
      ],
    });
    const installed = planFor([images]);
    const machine = installed.stateMachines[0];
    const principals: Record<string, readonly IamStatementLike[]> = {
      source: installed.functions.source.statements,
      machine: machine?.statements ?? [],
      'image-push': installed.imagePushes.statements,
    };
    const allowed: IamRequest[] = [
      { principal: 'source', action: 'ecr:DescribeImages', resource: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/web` },
      { principal: 'machine', action: 'states:StartExecution', resource: target },
      { principal: 'machine', action: 'states:DescribeExecution', resource: `arn:aws:states:${REGION}:${ACCOUNT}:execution:release:rel-1` },
      { principal: 'machine', action: 'states:StopExecution', resource: `arn:aws:states:${REGION}:${ACCOUNT}:execution:release:rel-1` },
      {
        principal: 'machine',
        action: 'events:PutRule',
        resource: `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`,
      },
      { principal: 'machine', action: 's3:GetObject', resource: `arn:aws:s3:::${installed.names.bucket}/images/e1/Img/in.json`, mayBeMissing: true },
      { principal: 'image-push', action: 'states:StartExecution', resource: machine?.arn ?? '' },
    ];
    expect(describeDenials(await checkRequests((p) => principals[p] ?? [], allowed))).toBe('');
    const refused: IamRequest[] = [
      { principal: 'source', action: 'ecr:DescribeImages', resource: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/other` },
      { principal: 'machine', action: 'states:StartExecution', resource: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:other` },
      { principal: 'image-push', action: 'states:StartExecution', resource: target },
    ];
    expect(await checkRequests((p) => principals[p] ?? [], refused)).toHaveLength(refused.length);
  });
});

describe('the conditions function', () => {
  it("reads the alarms and invokes the functions that its pipelines' rules name, and nothing else", async () => {
    const gated = afterSource('gated', {
      name: 'Deploy',
      beforeEntry: { result: 'FAIL', rules: [{ name: 'Check', provider: 'LambdaInvoke', functionName: 'preflight' }] },
      onSuccess: { result: 'FAIL', rules: [{ name: 'Errors', provider: 'CloudWatchAlarm', alarmName: 'web-5xx' }] },
      actions: [{ name: 'Ship', kind: 'invoke', function: 'ship' }],
    });
    const gatedPlan = planFor([gated]);
    const of = (principal: string) => Object.values(gatedPlan.functions).find((f) => f.key === principal)?.statements ?? [];
    const fn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    const allowed = await checkRequests(of, [
      { principal: 'conditions', action: 'cloudwatch:DescribeAlarms', resource: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:web-5xx` },
      { principal: 'conditions', action: 'lambda:InvokeFunction', resource: fn('preflight') },
    ]);
    expect(describeDenials(allowed)).toBe('');
    const denied = await checkRequests(of, [{ principal: 'conditions', action: 'lambda:InvokeFunction', resource: fn('ship') }]);
    expect(describeDenials(denied)).not.toBe('');
    // The state machine may invoke the conditions function.
    expect(gatedPlan.stateMachines[0]?.statements.flatMap((s) => s.Resource)).toContain(gatedPlan.functions.conditions.arn);
  });

  it("runs a Commands rule's build in the project made for it (finding, stopping it; the build reading its input artifacts), and reads its pipelines' condition overrides (a missing one as 404)", async () => {
    const gated = afterSource('gated', {
      name: 'Deploy',
      beforeEntry: { result: 'FAIL', rules: [{ name: 'Smoke', provider: 'Commands', commands: ['./smoke'] }] },
      actions: [{ name: 'Ship', kind: 'invoke', function: 'ship' }],
    });
    const plan = planFor([gated, afterSource('plain', { name: 'Deploy', actions: [{ name: 'Ship', kind: 'invoke', function: 'ship' }] })]);
    const project = plan.projects.find((p) => p.pipeline === 'gated' && p.action === 'beforeEntry-Smoke');
    expect(project).toMatchObject({
      name: 'stepline-team-gated-Deploy-beforeEntry-Smoke',
      source: { type: 'NO_SOURCE' },
      artifacts: { type: 'NO_ARTIFACTS' },
      timeoutMinutes: 55,
    });
    expect(plan.functions.conditions.environment).toMatchObject({ ARTIFACT_BUCKET: plan.names.bucket, CODEBUILD_PROJECT_PREFIX: 'stepline-team' });
    const of = (principal: string) => (principal === 'conditions' ? plan.functions.conditions.statements : (project?.statements ?? []));
    const bucket = `arn:aws:s3:::${plan.names.bucket}`;
    const projectArn = `arn:aws:codebuild:${TEST_REGION}:${TEST_ACCOUNT}:project/${project?.name}`;
    const machine = plan.stateMachines.find((m) => m.pipeline.name === 'gated');
    const allowed = await checkRequests(of, [
      { principal: 'conditions', action: 'codebuild:StartBuild', resource: projectArn },
      { principal: 'conditions', action: 'codebuild:BatchGetBuilds', resource: projectArn },
      { principal: 'conditions', action: 'codebuild:ListBuildsForProject', resource: projectArn },
      { principal: 'conditions', action: 'codebuild:StopBuild', resource: projectArn },
      {
        principal: 'conditions',
        action: 'states:GetExecutionHistory',
        resource: `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:execution:${machine?.name}:e1`,
      },
      { principal: 'conditions', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.conditionOverrides}gated/e1/Deploy/beforeEntry/0123abcd.json` },
      { principal: 'conditions', action: 's3:ListBucket', resource: bucket },
      {
        principal: project?.name ?? '',
        action: 'logs:PutLogEvents',
        resource: `arn:aws:logs:${TEST_REGION}:${TEST_ACCOUNT}:log-group:${project?.logGroup}:log-stream:b1`,
      },
      { principal: project?.name ?? '', action: 's3:GetObject', resource: `${bucket}/gated/e1/Src/x` },
      { principal: project?.name ?? '', action: 's3:ListBucket', resource: bucket, context: { 's3:prefix': 'gated/e1/Src/' } },
    ]);
    expect(describeDenials(allowed)).toBe('');
    const denied = await checkRequests(of, [
      {
        principal: 'conditions',
        action: 'codebuild:StartBuild',
        resource: `arn:aws:codebuild:${TEST_REGION}:${TEST_ACCOUNT}:project/stepline-team-gated-Deploy-Ship`,
      },
      { principal: 'conditions', action: 's3:PutObject', resource: `${bucket}/${ControlPrefix.conditionOverrides}gated/e1/Deploy/beforeEntry.json` },
      { principal: 'conditions', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.conditionOverrides}plain/e1/Deploy/beforeEntry.json` },
      {
        principal: 'conditions',
        action: 'states:GetExecutionHistory',
        resource: `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:execution:${plan.stateMachines.find((m) => m.pipeline.name === 'plain')?.name}:e1`,
      },
      { principal: project?.name ?? '', action: 's3:GetObject', resource: `${bucket}/plain/e1/Src/x` },
      { principal: project?.name ?? '', action: 's3:PutObject', resource: `${bucket}/gated/e1/Src/x` },
    ]);
    expect(denied).toHaveLength(6);
  });

  it('rolls back a pipeline with a ROLLBACK condition: reads its executions and manifests, copies its artifacts, starts it, and no other machine', async () => {
    const rolled = afterSource('web', { name: 'Deploy', onFailure: { result: 'ROLLBACK' }, actions: [{ name: 'Ship', kind: 'invoke', function: 'ship' }] });
    const other = afterSource('api', { name: 'Deploy', actions: [{ name: 'Ship', kind: 'invoke', function: 'ship' }] });
    const rollbackPlan = planFor([rolled, other]);
    const of = (principal: string) => Object.values(rollbackPlan.functions).find((f) => f.key === principal)?.statements ?? [];
    const [web, api] = rollbackPlan.stateMachines;
    const execution = (machine: string, name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machine}:${name}`;
    const bucket = `arn:aws:s3:::${rollbackPlan.names.bucket}`;
    const reads = (machine: string) =>
      ['states:DescribeExecution', 'states:GetExecutionHistory', 'states:DescribeStateMachineForExecution'].map((action) => ({
        principal: 'conditions',
        action,
        resource: execution(machine, 'good-1'),
      }));
    const allowed = await checkRequests(of, [
      { principal: 'conditions', action: 'states:ListExecutions', resource: web?.arn ?? '' },
      { principal: 'conditions', action: 'states:StartExecution', resource: web?.arn ?? '' },
      ...reads(web?.name ?? ''),
      { principal: 'conditions', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.pipelines}web.json` },
      { principal: 'conditions', action: 's3:GetObject', resource: `${bucket}/${ControlPrefix.pipelines}web/${'a'.repeat(64)}.json`, mayBeMissing: true },
      // CopyObject: read the good execution's artifact, write the rollback's.
      { principal: 'conditions', action: 's3:GetObject', resource: `${bucket}/web/good-1/Src/manifest.json`, mayBeMissing: true },
      { principal: 'conditions', action: 's3:PutObject', resource: `${bucket}/web/bad-1-rollback/Src/index.html` },
      { principal: 'conditions', action: 's3:ListBucket', resource: bucket, context: { 's3:prefix': 'web/good-1/Src/' } },
    ]);
    expect(describeDenials(allowed)).toBe('');
    expect(rollbackPlan.functions.conditions.environment).toMatchObject({ ARTIFACT_BUCKET: rollbackPlan.names.bucket });
    const refused: IamRequest[] = [
      { principal: 'conditions', action: 'states:StartExecution', resource: api?.arn ?? '' },
      { principal: 'conditions', action: 'states:ListExecutions', resource: api?.arn ?? '' },
      ...reads(api?.name ?? ''),
      { principal: 'conditions', action: 's3:PutObject', resource: `${bucket}/api/e1/Src/index.html` },
      { principal: 'conditions', action: 's3:PutObject', resource: `${bucket}/${ControlPrefix.pipelines}web.json` },
    ];
    expect(await checkRequests(of, refused)).toHaveLength(refused.length);
  });
});
