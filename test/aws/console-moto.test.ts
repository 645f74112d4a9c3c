/**
 * `stepline dashboard --target aws` against moto_server: a pipeline installed as `sst deploy` installs
 * it (manifest in S3, tagged state machine), started from the console's page with the user's
 * credentials, and shown from Step Functions' execution history with the same assertions as the local
 * console: the execution goes to Succeeded without a reload, stages, timeline, the deploy's traffic
 * chart, and no serious axe violation.
 *
 * moto runs no Lambda or CodeBuild Task: every Task becomes a Pass state of the same name (inside the
 * deploy's Map too; see helpers/moto-sfn.ts), so names, order and transitions stay as compiled and the
 * history is moto's own.
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { compilePipeline, type Pipeline, parsePipeline } from '@stepline/core';
import { type RunningConsole, startConsoleServer } from '@stepline/local';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsBackend } from '../../packages/cli/src/aws/backend';
import type { PipelineBackend } from '../../packages/cli/src/backend';
import { BackendConsole, type HistoryReader } from '../../packages/cli/src/console/backend-console';
import { cloudWatchLogText } from '../../packages/cli/src/console/cloudwatch-logs';
import { browserSkipReason, launchChromium, screenshot, seriousViolations } from '../helpers/browser';
import { type MotoServer, motoClientConfig, motoSkipReason, startMoto } from '../helpers/moto-server';
import { installOnMoto } from '../helpers/moto-sfn';

const skip = motoSkipReason() ?? browserSkipReason();
const BUCKET = 'stepline-team-artifacts';

const pipeline: Pipeline = parsePipeline({
  name: 'web',
  variables: [{ name: 'ENV', default: 'staging', description: 'Where it goes' }],
  stages: [
    { name: 'Source', actions: [{ name: 'Checkout', kind: 'source', repository: 'acme/web', outputArtifacts: ['src'] }] },
    { name: 'Build', actions: [{ name: 'Compile', kind: 'build', inputArtifacts: ['src'], outputArtifacts: ['out'] }] },
    {
      name: 'Deploy',
      actions: [
        {
          name: 'Canary',
          kind: 'deploy',
          inputArtifacts: ['out'],
          strategy: { steps: [{ setWeight: 25 }, { pause: { minutes: 0.02 } }, { setWeight: 60 }] },
          checkIntervalSeconds: 1,
          terminationWaitMinutes: 0,
          ecs: {
            cluster: 'c',
            service: 's',
            containerName: 'app',
            containerPort: 80,
            listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/2',
            targetGroups: {
              blue: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1',
              green: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2',
            },
            subnets: ['subnet-1'],
            securityGroups: ['sg-1'],
          },
        },
      ],
    },
  ],
});

describe.skipIf(skip)('the AWS console on moto_server', () => {
  let moto: MotoServer;
  let browser: Browser;
  let console_: RunningConsole;

  beforeAll(async () => {
    moto = await startMoto();
    await moto.configure({ stepfunctions: { execute_state_machine: true } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await console_?.close();
    await browser?.close();
    await moto?.stop();
  });

  it('starts from the page and shows the execution from Step Functions history, live, with its traffic chart', async () => {
    // Prepare: install the pipeline as `sst deploy` would.
    const config = motoClientConfig(moto);
    const s3 = new S3Client(config);
    const sfn = new SFNClient(config);
    const compiled = compilePipeline(pipeline, { target: 'aws', region: 'us-east-1', accountId: '123456789012', artifactBucket: BUCKET });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await installOnMoto({ s3, sfn }, { pipeline, name: 'stepline-team-web', compiled, manifestKey: '_stepline/pipelines/web.json' }, BUCKET);
    const backend = new AwsBackend({ sfn, s3, stage: 'team', actor: 'ana' });
    console_ = await startConsoleServer({ source: new BackendConsole(backend, 'AWS installation team (us-east-1)', 'ana'), port: 0 });
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // Act: the pipelines page, the pipeline, and Start with a variable.
    await page.goto(`${console_.url}/`);
    expect(await page.locator('[data-pipeline=web] h2').textContent()).toContain('web');
    expect(await page.locator('header .where').textContent()).toBe('AWS installation team (us-east-1)');
    await screenshot(page, 'aws-1-pipelines');
    expect(await seriousViolations(page)).toStrictEqual([]);
    await page.getByRole('link', { name: 'web', exact: true }).first().click();
    expect(await page.locator('.stage').count()).toBe(3);
    await page.getByText('Start execution').click();
    await page.getByLabel('ENV').fill('prod');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.waitForURL(/\/executions\//);
    await page.evaluate(() => Object.assign(globalThis, { stillThisDocument: true }));

    // Assess: it ends Succeeded on the page by itself, drawn from moto's history.
    await expect
      .poll(() => page.locator('[data-section=head] .pill').first().getAttribute('data-status'), { timeout: 60_000, interval: 200 })
      .toBe('Succeeded');
    expect(await page.evaluate(() => (globalThis as unknown as { stillThisDocument?: boolean }).stillThisDocument)).toBe(true);
    expect(await page.locator('.stage[data-status=Succeeded]').count()).toBe(3);
    expect(await page.locator('svg.timeline .row').count()).toBe(3);
    expect(await page.locator('.traffic .weight-point').evaluateAll((n) => n.map((c) => c.getAttribute('data-weight')))).toStrictEqual(['25', '60', '100']);
    expect(await page.locator('.traffic .alarm-check').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-section=more]').textContent()).toContain('prod');
    await screenshot(page, 'aws-2-execution');
    expect(await seriousViolations(page)).toStrictEqual([]);
    await context.close();
  }, 120_000);

  it('shows a build log from CloudWatch Logs, and streams what is added to it', async () => {
    // Prepare: a build's log stream, as CodeBuild writes it, and an execution whose history names it.
    const logs = new CloudWatchLogsClient(motoClientConfig(moto));
    const where = { groupName: '/aws/codebuild/stepline-team-web-Build-Compile', streamName: 'build-1' };
    await logs.send(new CreateLogGroupCommand({ logGroupName: where.groupName }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: where.groupName, logStreamName: where.streamName }));
    const put = (lines: string[], at: number) =>
      logs.send(
        new PutLogEventsCommand({
          logGroupName: where.groupName,
          logStreamName: where.streamName,
          logEvents: lines.map((message, i) => ({ message, timestamp: at + i })),
        }),
      );
    await put(['[Container] Entering phase BUILD', 'compiling'], Date.now());
    const compiled = compilePipeline(pipeline, { target: 'aws' });
    const reader = {
      getExecutionHistory: async () => ({
        detail: {
          executionId: 'e1',
          pipeline: 'web',
          status: 'InProgress' as const,
          startedAt: new Date().toISOString(),
          state: { pipeline: 'web', stages: [] },
          builds: { 'Build.Compile': { phases: [], cloudWatchLogs: where } },
          approvals: [],
          artifacts: [],
          variables: {},
        },
        pipeline,
        stateMap: compiled.stateMap,
        events: [],
      }),
    } as unknown as PipelineBackend & HistoryReader;
    const source = new BackendConsole(reader, 'AWS', 'ana', { logText: cloudWatchLogText(logs) });

    // Act and assess: the page has the log so far; what CodeBuild adds comes from where it left off.
    const shown = await source.execution('e1');
    const log = shown?.builds[0]?.log;
    expect(log).toStrictEqual({ text: '[Container] Entering phase BUILD\ncompiling\n', size: 43, truncated: false });
    await put(['compiled 12 files'], Date.now() + 10);
    expect(await source.log('e1', 'Build', 'Compile', log?.size ?? 0)).toStrictEqual({ text: 'compiled 12 files\n', size: 61 });
  });
});
