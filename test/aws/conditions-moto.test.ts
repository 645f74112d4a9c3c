/**
 * Stage conditions on AWS against moto_server with IAM enforced: the conditions function signs as a user
 * holding exactly its planned statements. The override it reads is the one the CLI's AWS backend writes
 * (override-stage-condition, over a recorded Step Functions history); without one, the rules run. moto
 * serves S3 and IAM; Step Functions' history and CodeBuild (which moto cannot serve to the JS SDK) are
 * faked with aws-sdk-client-mock.
 */

import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  ListTagsForResourceCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { type ConditionCheckPayload, type Rule, stateMachineArn } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsBackend } from '../../packages/cli/src/aws/backend';
import { waitingOnDeployWindow, webPipeline } from '../../packages/cli/src/aws/test-fixtures';
import { createConditionsHandler } from '../../packages/functions/src/handlers/conditions';
import { pipelineManifest } from '../../stacks/manifest';
import { type InstallationPlan, planInstallation } from '../../stacks/plan';
import { BOOTSTRAP_REQUESTS, enforceIam } from '../helpers/moto-iam';
import { MOTO_ACCOUNT, MOTO_REGION, type MotoServer, motoSkipReason, startMoto } from '../helpers/moto-server';

const skip = motoSkipReason();
const REGION = MOTO_REGION;
const ACCOUNT = MOTO_ACCOUNT;
const sfn = mockClient(SFNClient);
const codebuild = mockClient(CodeBuildClient);

describe.skipIf(skip)('the conditions function on moto_server, IAM enforced', () => {
  let moto: MotoServer;
  let plan: InstallationPlan;
  let handler: ReturnType<typeof createConditionsHandler>;
  let cli: AwsBackend;

  beforeAll(async () => {
    moto = await startMoto({ freeRequests: BOOTSTRAP_REQUESTS });
    const iam = await enforceIam(moto, REGION);
    plan = planInstallation({
      stage: 'team',
      region: REGION,
      accountId: ACCOUNT,
      pipelines: [webPipeline],
      secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']),
    });
    const admin = new S3Client(iam.config(iam.admin));
    await admin.send(new CreateBucketCommand({ Bucket: plan.names.bucket }));
    // What `sst deploy` writes: the pipeline's manifest, found through its state machine's tags.
    const machine = plan.stateMachines[0];
    if (!machine) throw new Error('no state machine planned');
    await admin.send(
      new PutObjectCommand({ Bucket: plan.names.bucket, Key: machine.manifestKey, Body: JSON.stringify(pipelineManifest(machine, 'team', plan.names.bucket)) }),
    );
    sfn
      .on(ListStateMachinesCommand)
      .resolves({ stateMachines: [{ stateMachineArn: machine.arn, name: machine.name, type: 'STANDARD', creationDate: new Date() }] });
    sfn.on(ListTagsForResourceCommand).resolves({ tags: Object.entries(machine.tags).map(([key, value]) => ({ key, value })) });
    sfn.on(DescribeStateMachineForExecutionCommand).resolves({ definition: JSON.stringify(machine.compiled.definition) });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: `${stateMachineArn(REGION, ACCOUNT, machine.name).replace(':stateMachine:', ':execution:')}:exec-7`,
      stateMachineArn: machine.arn,
      name: 'exec-7',
      status: 'RUNNING',
      startDate: new Date(),
      input: '{}',
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingOnDeployWindow().events });
    // The CLI acts with the user's own credentials (an administrator here).
    cli = new AwsBackend({ sfn: new SFNClient({ region: REGION }), s3: admin, stage: 'team', actor: 'ana' });

    const own = iam.config(await iam.makeUser('conditions', plan.functions.conditions.statements));
    handler = createConditionsHandler({
      cloudwatch: () => new CloudWatchClient(own),
      lambda: () => new LambdaClient(own),
      codebuild: () => new CodeBuildClient({ region: REGION }),
      s3: () => new S3Client(own),
      bucket: () => plan.functions.conditions.environment.ARTIFACT_BUCKET ?? '',
      projectPrefix: () => plan.functions.conditions.environment.CODEBUILD_PROJECT_PREFIX ?? '',
      now: () => new Date('2026-11-28T12:00:00Z'),
    });
  });
  afterAll(() => moto?.stop());

  const window: Rule = { name: 'Window', provider: 'DeploymentWindow', cron: '* 9-17 ? * MON-FRI *', timeZone: 'UTC' };
  const check = (rules: Rule[]): ConditionCheckPayload => ({ pipeline: 'web', stage: 'Deploy', executionId: 'exec-7', condition: 'beforeEntry', rules });

  it('waits while the window is closed, then passes at the next check once the CLI overrode the condition', async () => {
    // Saturday noon: closed; no override yet (a 404 the function may see, not a 403).
    expect(await handler(check([window]))).toMatchObject({ status: 'WAIT', rule: 'Window', waitSeconds: 300 });

    await cli.overrideStageCondition('web', { stage: 'Deploy', executionId: 'exec-7', conditionType: 'BEFORE_ENTRY', by: 'ana' });
    const result = await handler(check([window]));
    expect(result).toMatchObject({ status: 'PASS', overridden: { by: 'ana' }, rules: [{ rule: 'Window', status: 'PASS' }] });
    expect(result.reason).toMatch(/^overridden by ana at \d{4}-/);
  });

  it('runs a Commands rule in the project the installation made for it', async () => {
    codebuild.on(StartBuildCommand).resolves({ build: { id: 'p:9' } });
    codebuild.on(BatchGetBuildsCommand).resolves({ builds: [{ id: 'p:9', buildStatus: 'SUCCEEDED' }] });
    const smoke: Rule = { name: 'Smoke', provider: 'Commands', commands: ['./smoke'] };
    const onSuccess = { ...check([smoke]), condition: 'onSuccess' as const };
    const first = await handler(onSuccess);
    expect(first).toMatchObject({ status: 'WAIT', watch: { builds: { Smoke: 'p:9' } } });
    const [call] = codebuild.commandCalls(StartBuildCommand);
    expect(plan.projects.map((p) => p.name)).toContain(call?.args[0].input.projectName);
    expect(await handler({ ...onSuccess, watch: first.watch })).toMatchObject({ status: 'PASS' });
  });
});
