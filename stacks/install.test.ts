import { join } from 'node:path';
import { parseManifest } from '@stepline/cli/manifest';
import { type CommandsAction, commandsBuildspec, compilePipeline, machineHash, type Pipeline } from '@stepline/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type PolicyStatement, stateMachineObservability, WILDCARD_EXCEPTIONS } from './iam';
import { installStepline, type Stepline, statusPattern } from './install';
import { loadPipelines } from './pipelines';
import { type CreatedResource, mockPulumi, settleAll } from './testing';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const BUCKET = 'stepline-team-artifacts-123456789012-eu-west-1';
const HANDLERS = join(import.meta.dirname, '../packages/functions/src/handlers');
const fnArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:stepline-team-${name}`;

/** The options a team's installation compiles with: what the definitions must equal. */
const EXPECTED_COMPILE_OPTIONS = {
  target: 'aws',
  region: REGION,
  accountId: ACCOUNT,
  artifactBucket: BUCKET,
  approvalTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:stepline-team-approvals`,
  projectPrefix: 'stepline-team',
  functions: { source: fnArn('source'), approval: fnArn('approval-request'), gate: fnArn('gate'), canary: fnArn('canary') },
} as const;

let created: CreatedResource[];
let stepline: Stepline;
let pipelines: Pipeline[];

const ofType = (type: string) => created.filter((r) => r.type === type);
const named = (type: string, name: string) => {
  const found = created.find((r) => r.type === type && r.name === name);
  if (!found)
    throw new Error(
      `no ${type} ${name}; have ${ofType(type)
        .map((r) => r.name)
        .join(', ')}`,
    );
  return found;
};
const policyOf = (roleId: string): PolicyStatement[] => JSON.parse(String(named('aws:iam/rolePolicy:RolePolicy', `${roleId}Policy`).inputs.policy)).Statement;

beforeAll(async () => {
  created = await mockPulumi();
  pipelines = loadPipelines(join(import.meta.dirname, 'fixtures/pipelines')).map((p) => p.pipeline);
  stepline = installStepline({
    stage: 'team',
    region: REGION,
    accountId: ACCOUNT,
    pipelines,
    handlersDir: HANDLERS,
    bundle: () => new $util.asset.AssetArchive({ 'index.mjs': new $util.asset.StringAsset('export const handler = async () => ({});') }),
    secrets: { GithubWebhookSecret: 'whsec', LinkSigningKey: 'key', SlackWebhookUrl: 'https://hooks.slack.com/services/T/B/X' },
    approvalEmails: ['releases@example.com'],
  });
  await settleAll(stepline.resources);
});

describe('state machines', () => {
  it('one per pipeline, each definition equal to the compiler’s output for it', () => {
    const machines = ofType('aws:sfn/stateMachine:StateMachine');
    expect(machines.map((m) => m.inputs.name).sort()).toStrictEqual(['stepline-team-api', 'stepline-team-web']);
    for (const pipeline of pipelines) {
      const machine = named('aws:sfn/stateMachine:StateMachine', `Pipeline${pipeline.name[0]?.toUpperCase()}${pipeline.name.slice(1)}`);
      expect(JSON.parse(String(machine.inputs.definition))).toStrictEqual(compilePipeline(pipeline, EXPECTED_COMPILE_OPTIONS).definition);
      expect(machine.inputs.type).toBe('STANDARD');
      expect(machine.inputs.tags).toStrictEqual({
        'stepline:installation': 'team',
        'stepline:pipeline': pipeline.name,
        'stepline:manifest': `s3://${BUCKET}/_stepline/pipelines/${pipeline.name}.json`,
      });
    }
  });

  it('log errors to CloudWatch Logs without execution data, and trace only when asked', () => {
    for (const pipeline of pipelines) {
      const id = `Pipeline${pipeline.name[0]?.toUpperCase()}${pipeline.name.slice(1)}`;
      const machine = named('aws:sfn/stateMachine:StateMachine', id);
      expect(machine.inputs.loggingConfiguration).toMatchObject({ level: 'ERROR', includeExecutionData: false });
      expect(String((machine.inputs.loggingConfiguration as { logDestination: string }).logDestination)).toMatch(/:\*$/);
      expect(machine.inputs.tracingConfiguration).toStrictEqual({ enabled: false });
      expect(named('aws:cloudwatch/logGroup:LogGroup', `${id}Logs`).inputs).toMatchObject({
        name: `/aws/vendedlogs/states/stepline-team-${pipeline.name}`,
        retentionInDays: 30,
      });
    }
  });

  it('functions’ roles trust Lambda without a SourceAccount condition (Lambda documents none); others require this account', () => {
    const trust = (id: string) => JSON.parse(String(named('aws:iam/role:Role', `${id}Role`).inputs.assumeRolePolicy)).Statement;
    expect(trust('FnGate')).toStrictEqual([{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
    const project = ofType('aws:iam/role:Role').find((r) => r.name.startsWith('Project'));
    expect(JSON.parse(String(project?.inputs.assumeRolePolicy)).Statement[0].Condition).toStrictEqual({ StringEquals: { 'aws:SourceAccount': ACCOUNT } });
  });

  it('each role holds exactly the compiler’s IAM statements for its pipeline, and log delivery', () => {
    for (const pipeline of pipelines) {
      const id = `Pipeline${pipeline.name[0]?.toUpperCase()}${pipeline.name.slice(1)}`;
      expect(policyOf(id)).toStrictEqual([...compilePipeline(pipeline, EXPECTED_COMPILE_OPTIONS).iam, ...stateMachineObservability(false)]);
      const trust = JSON.parse(String(named('aws:iam/role:Role', `${id}Role`).inputs.assumeRolePolicy));
      expect(trust.Statement).toStrictEqual([
        {
          Effect: 'Allow',
          Principal: { Service: 'states.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
        },
      ]);
    }
  });

  it('writes a manifest per pipeline that the CLI reads back (pipeline + state map)', () => {
    for (const pipeline of pipelines) {
      const object = named('aws:s3/bucketObjectv2:BucketObjectv2', `Manifest-${pipeline.name}`);
      expect(object.inputs.key).toBe(`_stepline/pipelines/${pipeline.name}.json`);
      const manifest = parseManifest(String(object.inputs.content), 'manifest');
      expect(manifest.pipeline).toStrictEqual(pipeline);
      expect(manifest.stateMap).toStrictEqual(compilePipeline(pipeline, EXPECTED_COMPILE_OPTIONS).stateMap);
      expect(manifest).toMatchObject({ installation: 'team', artifactBucket: BUCKET, gatePrefix: '_stepline/gates/' });
      // The same manifest under the machine's hash, for executions of this machine after the next deploy.
      const hash = machineHash(compilePipeline(pipeline, EXPECTED_COMPILE_OPTIONS).definition);
      expect(manifest.machineHash).toBe(hash);
      const kept = named('aws:s3/bucketObjectv2:BucketObjectv2', `Manifest-${pipeline.name}-${hash.slice(0, 16)}`);
      expect(kept.inputs.key).toBe(`_stepline/pipelines/${pipeline.name}/${hash}.json`);
      expect(kept.inputs.content).toBe(object.inputs.content);
    }
    const list = JSON.parse(String(named('aws:s3/bucketObjectv2:BucketObjectv2', 'PipelineList').inputs.content));
    expect(list.map((p: Pipeline) => p.name)).toStrictEqual(['api', 'web']);
  });
});

describe('IAM', () => {
  /** A resource naming one thing, or a prefix of one thing's keys: wildcards only at the end, after a name. */
  function scoped(resource: string): boolean {
    if (!resource.includes('*')) return true;
    if (resource.indexOf('*') !== resource.length - 1) return false;
    const rest = resource.replace(/^arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d*:/, '');
    return rest.split(/[/:]/).filter((s) => s !== '' && s !== '*').length >= 2;
  }

  it('no action has a wildcard, and a resource has one only where AWS requires it (a Sid saying why)', () => {
    const policies = ofType('aws:iam/rolePolicy:RolePolicy');
    expect(policies.length).toBeGreaterThan(10);
    for (const policy of policies) {
      for (const statement of JSON.parse(String(policy.inputs.policy)).Statement as PolicyStatement[]) {
        const where = `${policy.name}: ${JSON.stringify(statement)}`;
        expect(statement.Effect, where).toBe('Allow');
        for (const action of statement.Action) expect(action, where).not.toContain('*');
        const unscoped = statement.Resource.filter((r) => !scoped(r));
        if (unscoped.length > 0) expect(Object.keys(WILDCARD_EXCEPTIONS), where).toContain(statement.Sid);
      }
    }
  });

  it('the gate function may read and write gate state, answer task tokens and write its logs: nothing else', () => {
    expect(policyOf('FnGate')).toStrictEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [`arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/stepline-team-gate:*`],
      },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [`arn:aws:s3:::${BUCKET}/_stepline/gates/*`] },
      // Without it S3 answers the first read of a pipeline's gate object (not written yet) with 403.
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [`arn:aws:s3:::${BUCKET}`] },
      { Sid: 'TaskTokenAnswers', Effect: 'Allow', Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: ['*'] },
    ]);
  });

  it('the webhook starts only the installation’s state machines and reads only its secret and the pipeline list', () => {
    expect(policyOf('FnWebhook').slice(1)).toStrictEqual([
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${BUCKET}/_stepline/pipelines.json`] },
      {
        Effect: 'Allow',
        Action: ['states:StartExecution'],
        Resource: [`arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:stepline-team-api`, `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:stepline-team-web`],
      },
      {
        Effect: 'Allow',
        Action: ['states:DescribeExecution'],
        Resource: [`arn:aws:states:${REGION}:${ACCOUNT}:execution:stepline-team-api:*`, `arn:aws:states:${REGION}:${ACCOUNT}:execution:stepline-team-web:*`],
      },
      { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [`arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/stepline/team/github-webhook-secret`] },
    ]);
  });

  it('the canary may change only the ECS service, listener and alarms the deploy action names', () => {
    const statements = policyOf('FnCanary');
    const resources = statements.flatMap((s) => s.Resource);
    expect(resources).toContain(`arn:aws:ecs:${REGION}:${ACCOUNT}:service/prod/web`);
    expect(resources).toContain(`arn:aws:ecs:${REGION}:${ACCOUNT}:task-set/prod/web/*`);
    expect(resources).toContain('arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/1/2');
    // Composite alarms are only returned when DescribeAlarms is allowed on "*".
    expect(statements.find((s) => s.Sid === 'CompositeAlarms')).toStrictEqual({
      Sid: 'CompositeAlarms',
      Effect: 'Allow',
      Action: ['cloudwatch:DescribeAlarms'],
      Resource: ['*'],
    });
    expect(resources).toContain(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:web-smoke-test`);
    expect(statements.find((s) => s.Sid === 'PassTaskRoles')?.Condition).toStrictEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    expect(statements.find((s) => s.Sid === 'TagOnCreate')?.Condition).toStrictEqual({
      StringEquals: { 'ecs:CreateAction': ['CreateTaskSet', 'RegisterTaskDefinition'] },
    });
  });

  it('optional secrets without a value are neither stored nor granted', () => {
    expect(
      ofType('aws:ssm/parameter:Parameter')
        .map((p) => p.inputs.name)
        .sort(),
    ).toStrictEqual(['/stepline/team/github-webhook-secret', '/stepline/team/link-signing-key', '/stepline/team/slack-webhook-url']);
    expect(ofType('aws:ssm/parameter:Parameter').every((p) => p.inputs.type === 'SecureString')).toBe(true);
    expect(JSON.stringify(policyOf('FnSource'))).not.toContain('ssm:GetParameter');
    expect(named('aws:lambda/function:Function', 'FnSource').inputs.environment).toStrictEqual({
      variables: { NODE_OPTIONS: '--enable-source-maps', ARTIFACT_BUCKET: BUCKET },
    });
  });
});

describe('artifact bucket', () => {
  it('is private: public access blocked, ACLs off, no statement allows anyone', () => {
    expect(named('aws:s3/bucket:Bucket', 'Artifacts').inputs).toMatchObject({ bucket: BUCKET, forceDestroy: true });
    expect(named('aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', 'ArtifactsPublicAccess').inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(named('aws:s3/bucketOwnershipControls:BucketOwnershipControls', 'ArtifactsOwnership').inputs.rule).toStrictEqual({
      objectOwnership: 'BucketOwnerEnforced',
    });
    const policy = JSON.parse(String(named('aws:s3/bucketPolicy:BucketPolicy', 'ArtifactsPolicy').inputs.policy));
    expect(policy.Statement.map((s: PolicyStatement) => s.Effect)).toStrictEqual(['Deny']);
    expect(ofType('aws:s3/bucketAclV2:BucketAclV2')).toStrictEqual([]);
    expect(ofType('aws:s3/bucketAcl:BucketAcl')).toStrictEqual([]);
  });

  it('is encrypted and versioned, and old executions expire', () => {
    expect(named('aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', 'ArtifactsEncryption').inputs.rules).toStrictEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true },
    ]);
    expect(named('aws:s3/bucketVersioning:BucketVersioning', 'ArtifactsVersioning').inputs.versioningConfiguration).toStrictEqual({ status: 'Enabled' });
    const rules = named('aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', 'ArtifactsLifecycle').inputs.rules as Array<
      Record<string, unknown>
    >;
    expect(rules.find((r) => r.id === 'artifacts-web')).toStrictEqual({
      id: 'artifacts-web',
      status: 'Enabled',
      filter: { prefix: 'web/' },
      expiration: { days: 30 },
    });
    expect(rules.find((r) => r.id === 'old-versions')).toMatchObject({ noncurrentVersionExpiration: { noncurrentDays: 7 } });
    // Gate state and manifests are current objects under _stepline/: no rule expires them.
    expect(
      rules.filter((r) => (r.filter as { prefix?: string }).prefix?.startsWith('_stepline/gates') || (r.filter as { prefix?: string }).prefix === '_stepline/'),
    ).toStrictEqual([]);
  });
});

describe('functions, projects and events', () => {
  it('bundles every handler for Node.js 22, public URLs only for the webhook and approval links', () => {
    const functions = ofType('aws:lambda/function:Function');
    expect(functions.map((f) => f.inputs.name).sort()).toStrictEqual(
      ['approval-request', 'approval-response', 'canary', 'cloudformation', 'code-deploy', 'gate', 'notify', 's3-deploy', 'source', 'webhook'].map(
        (n) => `stepline-team-${n}`,
      ),
    );
    for (const fn of functions) expect(fn.inputs).toMatchObject({ runtime: 'nodejs22.x', handler: 'index.handler', architectures: ['arm64'] });
    expect(
      ofType('aws:lambda/functionUrl:FunctionUrl')
        .map((u) => u.name)
        .sort(),
    ).toStrictEqual(['FnApprovalResponseUrl', 'FnWebhookUrl']);
    expect(named('aws:lambda/function:Function', 'FnApprovalRequest').inputs.environment).toMatchObject({
      variables: { PUBLIC_URL: 'https://fnapprovalresponseurl.lambda-url.eu-west-1.on.aws/', LINK_SIGNING_KEY: '/stepline/team/link-signing-key' },
    });
    expect(named('aws:lambda/function:Function', 'FnGate').inputs.environment).toMatchObject({
      variables: { ARTIFACT_BUCKET: BUCKET, STATE_MACHINE_PREFIX: 'stepline-team-' },
    });
  });

  it('creates CodeBuild projects for build and test actions that name none, and for commands actions', () => {
    const projects = ofType('aws:codebuild/project:Project');
    expect(projects.map((p) => p.inputs.name).sort()).toStrictEqual([
      'stepline-team-api-Build-Bundle',
      'stepline-team-api-Build-Test',
      'stepline-team-web-Build-Compile',
    ]);
    // A commands action's project runs the buildspec made from its commands, as its Task sends it.
    const bundle = named('aws:codebuild/project:Project', 'ProjectApiBuildBundle').inputs;
    const api = pipelines.find((p) => p.name === 'api') as Pipeline;
    expect(bundle.source).toMatchObject({
      type: 'GITHUB',
      location: 'https://github.com/acme/api.git',
      buildspec: commandsBuildspec(api.stages[1]?.actions[1] as CommandsAction),
    });
    expect(bundle.artifacts).toMatchObject({ type: 'S3', packaging: 'NONE' });
    expect(named('aws:codebuild/project:Project', 'ProjectWebBuildCompile').inputs.source).toStrictEqual({
      type: 'GITHUB',
      location: 'https://github.com/acme/web.git',
      buildspec: 'buildspec.yml',
      auth: { type: 'CODECONNECTIONS', resource: 'arn:aws:codeconnections:eu-west-1:123456789012:connection/abc' },
    });
    const compiled = compilePipeline(pipelines.find((p) => p.name === 'web') as Pipeline, EXPECTED_COMPILE_OPTIONS);
    expect(JSON.stringify(compiled.definition)).toContain('"ProjectName":"stepline-team-web-Build-Compile"');
    expect(JSON.stringify(compiled.definition)).toContain('"ProjectName":"team-shared-lint"');
  });

  it('sends execution status changes to the gate and notify functions, and unsuccessful ends of deploying pipelines to the canary', () => {
    const arns = ['api', 'web'].map((p) => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:stepline-team-${p}`);
    expect(JSON.parse(String(named('aws:cloudwatch/eventRule:EventRule', 'ExecutionStatus').inputs.eventPattern))).toStrictEqual(statusPattern(arns));
    expect(JSON.parse(String(named('aws:cloudwatch/eventRule:EventRule', 'DeploymentRollback').inputs.eventPattern)).detail).toStrictEqual({
      stateMachineArn: [arns[1]],
      status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
    });
    expect(
      ofType('aws:cloudwatch/eventTarget:EventTarget')
        .map((t) => t.name)
        .sort(),
    ).toStrictEqual(['DeploymentRollbackToCanary', 'ExecutionStatusToGate', 'ExecutionStatusToNotify']);
    const permissions = ofType('aws:lambda/permission:Permission').filter((p) => p.inputs.principal === 'events.amazonaws.com');
    expect(permissions).toHaveLength(3);
  });

  it('subscribes the approval e-mails to the approvals topic', () => {
    expect(ofType('aws:sns/topicSubscription:TopicSubscription').map((s) => [s.name, s.inputs.protocol, s.inputs.endpoint])).toStrictEqual([
      ['ApprovalEmail0', 'email', 'releases@example.com'],
    ]);
  });
});

describe('refusals', () => {
  it('a required secret without a value stops the deploy, saying how to set it', () => {
    expect(() =>
      installStepline({
        stage: 'team',
        region: REGION,
        accountId: ACCOUNT,
        pipelines,
        handlersDir: HANDLERS,
        bundle: () => new $util.asset.AssetArchive({}),
        secrets: { GithubWebhookSecret: 'x' },
      }),
    ).toThrow('stepline: the secret LinkSigningKey has no value: set it with `npx sst secret set LinkSigningKey <value> --stage team`');
  });

  it('a pipeline AWS cannot run stops the deploy, naming what is missing', () => {
    const local = { ...pipelines[0], name: 'local-only' } as Pipeline;
    const invoke = { name: 'Run', kind: 'invoke' as const, command: 'make', runOrder: 1, inputArtifacts: [], outputArtifacts: [] };
    const broken = { ...local, stages: [{ name: 'Only', actions: [invoke] }] } as Pipeline;
    expect(() =>
      installStepline({
        stage: 'team',
        region: REGION,
        accountId: ACCOUNT,
        pipelines: [broken],
        handlersDir: HANDLERS,
        bundle: () => new $util.asset.AssetArchive({}),
        secrets: { GithubWebhookSecret: 'x', LinkSigningKey: 'y' },
      }),
    ).toThrow(/local-only: stages\[0\]\.actions\[0\]\.function: an invoke action needs a function to run on AWS/);
  });
});
