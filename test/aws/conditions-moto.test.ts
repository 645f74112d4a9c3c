/**
 * Stage conditions on AWS against moto_server with IAM enforced: the conditions function signs as a user
 * holding exactly its planned statements. The override it reads is the one the CLI's AWS backend writes
 * (override-stage-condition, over a recorded Step Functions history); without one, the rules run. moto
 * serves S3, CloudWatch and IAM; Step Functions' history is faked with aws-sdk-client-mock, and CodeBuild
 * (which moto cannot serve to the JS SDK) by the API stand-in, whose builds download their sources from
 * moto as the rule project's own user and run their commands in a real shell.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
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
import { type ConditionCheckPayload, type ConditionCheckResult, parsePipeline, type Rule, stateMachineArn } from '@stepline/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsBackend } from '../../packages/cli/src/aws/backend';
import { type HistoryWriter, waitingForApproval, waitingOnDeployWindow, webPipeline } from '../../packages/cli/src/aws/test-fixtures';
import { createConditionsHandler } from '../../packages/functions/src/handlers/conditions';
import { storeArtifact } from '../../packages/functions/src/source/store';
import { pipelineManifest } from '../../stacks/manifest';
import { type InstallationPlan, planInstallation } from '../../stacks/plan';
import { BOOTSTRAP_REQUESTS, enforceIam, listsPastMotoPrefixQuirk } from '../helpers/moto-iam';
import { MOTO_ACCOUNT, MOTO_REGION, type MotoServer, motoSkipReason, startMoto } from '../helpers/moto-server';
import { CodeBuildApiStandIn } from './codebuild-api-stand-in';
import type { StandInProject } from './stand-ins';

const skip = motoSkipReason();
const REGION = MOTO_REGION;
const ACCOUNT = MOTO_ACCOUNT;
const sfn = mockClient(SFNClient);
const codebuild = mockClient(CodeBuildClient);

/**
 * A pipeline whose Deploy stage checks, before entry, that the built site is there (a Commands rule run
 * in the stage's input artifact) and that the error alarm is quiet. `HOLD` keeps the build running.
 */
const checked = parsePipeline({
  name: 'checked',
  variables: [{ name: 'HOLD', default: '' }],
  stages: [
    { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/site', outputArtifacts: ['src'] }] },
    { name: 'Build', actions: [{ name: 'Make', kind: 'commands', commands: ['make'], inputArtifacts: ['src'], outputArtifacts: ['site'] }] },
    {
      name: 'Deploy',
      beforeEntry: {
        result: 'FAIL',
        rules: [
          { name: 'Smoke', provider: 'Commands', commands: ['grep -q hello public/index.html', 'if [ -n "$HOLD" ]; then sleep 60; fi'] },
          { name: 'Errors', provider: 'CloudWatchAlarm', alarmName: 'checked-5xx' },
        ],
      },
      actions: [{ name: 'Ship', kind: 'invoke', function: 'ship', inputArtifacts: ['site'] }],
    },
  ],
});

describe.skipIf(skip)('the conditions function on moto_server, IAM enforced', () => {
  let moto: MotoServer;
  let plan: InstallationPlan;
  let handler: ReturnType<typeof createConditionsHandler>;
  let cli: AwsBackend;
  let admin: S3Client;
  let adminCloudWatch: CloudWatchClient;
  let builds: CodeBuildApiStandIn;
  let clock = Date.parse('2026-12-05T03:00:00Z');
  const workDir = mkdtempSync(join(tmpdir(), 'stepline-rule-builds-'));

  beforeAll(async () => {
    moto = await startMoto({ freeRequests: BOOTSTRAP_REQUESTS });
    const iam = await enforceIam(moto, REGION);
    plan = planInstallation({
      stage: 'team',
      region: REGION,
      accountId: ACCOUNT,
      pipelines: [webPipeline, checked],
      secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']),
    });
    admin = new S3Client(iam.config(iam.admin));
    await admin.send(new CreateBucketCommand({ Bucket: plan.names.bucket }));
    adminCloudWatch = new CloudWatchClient(iam.config(iam.admin));
    await adminCloudWatch.send(
      new PutMetricAlarmCommand({
        AlarmName: 'checked-5xx',
        MetricName: '5xx',
        Namespace: 'checked',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
    // Each rule project's builds read S3 as a user holding exactly the project's planned statements.
    const projects = new Map<string, StandInProject>();
    for (const project of plan.projects.filter((p) => p.pipeline === 'checked' && p.action.startsWith('beforeEntry-'))) {
      const s3 = listsPastMotoPrefixQuirk(new S3Client(iam.config(await iam.makeUser(project.name, project.statements))));
      projects.set(project.name, { name: project.name, source: { type: 'NO_SOURCE' }, s3 });
    }
    builds = new CodeBuildApiStandIn({ projects, repoDir: workDir, workDir, region: REGION, accountId: ACCOUNT }, () => clock);
    builds.bind(codebuild);
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
      rollback: { sfn: () => new SFNClient({ region: REGION }), s3: () => new S3Client(own), env: plan.functions.conditions.environment },
    });
  });
  afterAll(async () => {
    await builds?.settled();
    await moto?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  const window: Rule = { name: 'Window', provider: 'DeploymentWindow', cron: '* 9-17 ? * MON-FRI *', timeZone: 'UTC' };
  const RUN = '2026-11-28T11:00:00.000Z';
  const check = (rules: Rule[], run = RUN): ConditionCheckPayload => ({
    pipeline: 'web',
    stage: 'Deploy',
    executionId: 'exec-7',
    condition: 'beforeEntry',
    rules,
    run,
  });

  it('waits while the window is closed, then passes at the next check once the CLI overrode it; the condition evaluated again runs its rule again', async () => {
    // Saturday noon: closed; no override yet (a 404 the function may see, not a 403).
    const waiting = await handler(check([window]));
    expect(waiting).toMatchObject({ status: 'WAIT', rule: 'Window', waitSeconds: 300 });
    // The history records the function's answer: the CLI overrides the evaluation that waits.
    sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingOnDeployWindow(waiting).events });

    await cli.overrideStageCondition('web', { stage: 'Deploy', executionId: 'exec-7', conditionType: 'BEFORE_ENTRY', by: 'ana' });
    const result = await handler({ ...check([window]), watch: waiting.watch ?? {} });
    expect(result).toMatchObject({ status: 'PASS', overridden: { by: 'ana' }, rules: [{ rule: 'Window', status: 'PASS' }] });
    expect(result.reason).toMatch(/^overridden by ana at \d{4}-/);

    // A retried stage is a new run of its entry (one machine's retry-stage-execution): ana's override was not for it.
    expect(await handler(check([window], '2026-11-28T11:30:00.000Z'))).toMatchObject({ status: 'WAIT', rule: 'Window' });
  });

  describe('a Commands rule', () => {
    const compiled = () => plan.stateMachines.find((m) => m.pipeline.name === 'checked')?.compiled.definition.States['Deploy · check entry conditions'];
    // The rules as the compiled machine sends them (with the stage's input artifacts), the rest as Step Functions resolves it.
    const payload = (executionId: string, run: string, variables: Record<string, string> = {}) => {
      const sent = (compiled() as unknown as { Parameters: { Payload: { rules: Rule[] } } }).Parameters.Payload;
      return { pipeline: 'checked', stage: 'Deploy', condition: 'beforeEntry' as const, rules: sent.rules, executionId, run, variables };
    };
    const storeSite = (executionId: string) =>
      storeArtifact({ s3: admin, bucket: plan.names.bucket, pipeline: 'checked', executionId, artifact: 'site' }, async () => [
        { path: 'public/index.html', data: new TextEncoder().encode('<h1>hello</h1>\n') },
      ]);
    const buildOf = (id: string | undefined) => builds.started.find((b) => b.build.id === id)?.build;

    it('builds in the stage’s input artifact from the artifact store, once per evaluation however often the check is retried', async () => {
      await storeSite('exec-9');
      const first = payload('exec-9', '2026-12-05T02:59:00.000Z');
      const started = await handler(first);
      expect(started).toMatchObject({ status: 'WAIT', rule: 'Smoke' });
      const id = started.watch?.builds?.Smoke;
      // The check Task retried by Step Functions (its first attempt timed out after StartBuild): the same build.
      expect((await handler(first)).watch?.builds?.Smoke).toBe(id);
      // Retried again after CodeBuild forgot the token (5 minutes): found among the project's builds.
      clock += 10 * 60_000;
      expect((await handler(first)).watch?.builds?.Smoke).toBe(id);
      expect(builds.started.filter((b) => b.build.projectName === buildOf(id)?.projectName)).toHaveLength(1);

      await builds.settled();
      const passed = await handler({ ...first, watch: started.watch ?? {} });
      expect(passed, JSON.stringify(buildOf(id))).toMatchObject({
        status: 'PASS',
        rules: [
          { rule: 'Smoke', status: 'PASS', reason: `commands succeeded in CodeBuild build ${id}` },
          { rule: 'Errors', status: 'PASS' },
        ],
      });
      // Another evaluation (a later run) builds again.
      expect((await handler(payload('exec-9', '2026-12-05T03:30:00.000Z'))).watch?.builds?.Smoke).not.toBe(id);
      await builds.settled();
    });

    it('stops the build when another rule is not met while it runs', async () => {
      await storeSite('exec-10');
      const held = payload('exec-10', '2026-12-05T03:01:00.000Z', { HOLD: '1' });
      const started = await handler(held);
      const id = started.watch?.builds?.Smoke;
      expect(buildOf(id)?.buildStatus).toBe('IN_PROGRESS');

      await adminCloudWatch.send(new SetAlarmStateCommand({ AlarmName: 'checked-5xx', StateValue: 'ALARM', StateReason: 'errors' }));
      try {
        expect(await handler({ ...held, watch: started.watch ?? {} })).toMatchObject({ status: 'NOT_MET', rule: 'Errors' });
      } finally {
        await adminCloudWatch.send(new SetAlarmStateCommand({ AlarmName: 'checked-5xx', StateValue: 'OK', StateReason: 'quiet' }));
      }
      expect(buildOf(id)?.buildStatus).toBe('STOPPED');
      await builds.settled();
    });

    it('stops the build an execution that ended was waiting on, or that a failed check had started (its status change from EventBridge)', async () => {
      const machine = plan.stateMachines.find((m) => m.pipeline.name === 'checked');
      const endOf = (name: string, status: string) => ({
        source: 'aws.states' as const,
        'detail-type': 'Step Functions Execution Status Change',
        detail: { executionArn: `${machine?.arn.replace(':stateMachine:', ':execution:')}:${name}`, stateMachineArn: machine?.arn, name, status },
      });
      // GetExecutionHistory as Step Functions answers it (newest first when asked so); the check Task's
      // parameters are the payload the machine resolved.
      const historyOf = (events: HistoryWriter['events']) =>
        sfn
          .on(GetExecutionHistoryCommand)
          .callsFake(async (input: { reverseOrder?: boolean }) => ({ events: input.reverseOrder ? [...events].reverse() : events }));
      const check = 'Deploy · check entry conditions';

      await storeSite('exec-11');
      const held = payload('exec-11', '2026-12-05T03:02:00.000Z', { HOLD: '1' });
      const waiting: ConditionCheckResult = await handler(held);
      const id = waiting.watch?.builds?.Smoke;
      historyOf(
        waitingForApproval()
          .entered(check)
          .scheduled('lambda', { FunctionName: 'conditions', Payload: held })
          .succeeded('lambda', { Payload: waiting })
          .exited(check, { check: { result: waiting } })
          .entered('Deploy · wait for entry conditions', {}, 'WaitStateEntered').events,
      );
      expect(await handler(endOf('exec-11', 'ABORTED'))).toStrictEqual({ stopped: [id] });
      expect(buildOf(id)?.buildStatus).toBe('STOPPED');
      // Told again (EventBridge delivers at least once): the build has ended, nothing to stop.
      expect(await handler(endOf('exec-11', 'ABORTED'))).toStrictEqual({ stopped: [] });

      // A check that started the build and then failed (its function timed out): no answer names the build.
      await storeSite('exec-12');
      const orphaned = payload('exec-12', '2026-12-05T03:03:00.000Z', { HOLD: '1' });
      const started = (await handler(orphaned)).watch?.builds?.Smoke;
      historyOf(
        waitingForApproval()
          .entered(check)
          .scheduled('lambda', { FunctionName: 'conditions', Payload: orphaned })
          .failed('lambda', 'Sandbox.Timedout', 'Task timed out after 900.00 seconds').events,
      );
      expect(await handler(endOf('exec-12', 'FAILED'))).toStrictEqual({ stopped: [started] });
      expect(buildOf(started)?.buildStatus).toBe('STOPPED');
      await builds.settled();
    });
  });
});
