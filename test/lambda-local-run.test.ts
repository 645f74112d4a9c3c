/**
 * A Lambda traffic shift on one machine with `stepline run`: the function's versions are local servers
 * of its handler (one per execution, the old one started again as blue), the weighted proxy stands in
 * for the alias, and hooks are commands. A failing AfterAllowTraffic hook rolls traffic back to the old
 * version, which stays the live one.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, LocalArtifactStore } from '@stepline/local';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, pipelineYaml, runCli } from './helpers/project';

let project: Project | undefined;
const cleanups: Array<() => void> = [];
afterEach(() => {
  project?.remove();
  for (const clean of cleanups.splice(0)) clean();
});

/** The function's handler, as it would be deployed to Lambda. */
const handler = (answer: string) => `export const handler = async () => ({ statusCode: 200, body: ${JSON.stringify(answer)} });\n`;

/** Serves the handler over HTTP on $PORT, as a function URL would: the local stand-in for one version. */
const SERVE = `import { createServer } from 'node:http';
import { handler } from './handler.mjs';
createServer(async (req, res) => {
  if (req.url === '/health') return res.end('ok');
  const answer = await handler({ rawPath: req.url });
  res.writeHead(answer.statusCode).end(answer.body);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * The AfterAllowTraffic check: ten requests through the proxy, all answered "ok"; what it saw is kept
 * for the test, in its working directory (the deployment's working copy) and where SMOKE_SEEN says.
 */
const SMOKE = `import { writeFileSync } from 'node:fs';
const seen = [];
for (let i = 0; i < 10; i++) seen.push(await (await fetch(process.env.PROXY_URL)).text());
const said = JSON.stringify({ seen, hookExecutionId: process.env.STEPLINE_HOOK_EXECUTION_ID });
writeFileSync('smoke-seen.json', said);
writeFileSync(process.env.SMOKE_SEEN, said);
process.exit(seen.every((s) => s.startsWith('ok')) ? 0 : 1);
`;

/** A project whose one deploy action is `Deploy · Shift` with `settings` (YAML lines), serving handler.mjs, with `files` beside. */
const shiftProject = (settings: string, files: Record<string, string>) =>
  createProject({
    'stepline.yml': pipelineYaml(
      'orders',
      `  - name: Deploy
    actions:
      - name: Shift
        kind: deploy
        inputArtifacts: [Src]
${settings}`,
    ),
    'handler.mjs': handler('ok v1'),
    'serve.mjs': SERVE,
    ...files,
  });

describe('stepline run: a Lambda traffic shift', () => {
  it('shifts to the new version, and rolls back to the old one when the AfterAllowTraffic hook fails', async () => {
    const port = await freePort();
    project = shiftProject(
      `        strategy: { steps: [{ setWeight: 10 }, { pause: { minutes: 0.02 } }, { setWeight: 100 }] }
        checkIntervalSeconds: 1
        terminationWaitMinutes: 0
        lambda: { functionName: orders, alias: live }
        hooks:
          AfterAllowTraffic: { function: orders-smoke, command: node smoke.mjs }
        local: { command: node serve.mjs, port: ${port} }
`,
      { 'smoke.mjs': SMOKE },
    );

    // Outside the project: a file there would be committed into the next run's source.
    const smokeSeen = join(mkdtempSync(join(tmpdir(), 'stepline-smoke-')), 'smoke-seen.json');
    cleanups.push(() => rmSync(dirname(smokeSeen), { recursive: true, force: true }));
    const env = { SMOKE_SEEN: smokeSeen };
    const first = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000, env });
    expect(first.stdout, first.stdout).toMatch(/✔ Deploy · Shift succeeded in/);
    expect(first.code).toBe(0);

    project.write('handler.mjs', handler('broken v2'));
    project.commitAll('v2 answers wrongly');
    const second = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000, env });

    expect(second.code, second.stdout).toBe(1);
    expect(second.stdout).toMatch(/rolled back after Stepline\.HookFailed: AfterAllowTraffic hook failed: `node smoke\.mjs` exited with 1/);
    const executions = JSON.parse((await runCli(['list-executions', '--json'], { cwd: project.dir })).stdout) as Array<{ executionId: string; status: string }>;
    const [latest, earlier] = executions;
    expect(executions.map((e) => e.status)).toStrictEqual(['Failed', 'Succeeded']);
    // The hook ran with all traffic on the new version, then traffic went back to the old one, which stays live.
    const smoke = JSON.parse(readFileSync(smokeSeen, 'utf8'));
    expect(smoke.seen).toStrictEqual(Array(10).fill('broken v2'));
    expect(smoke.hookExecutionId).toBe(`orders/Deploy/Shift/${latest?.executionId}-AfterAllowTraffic`);
    expect(second.stdout).toMatch(/traffic is back on blue \(execution \S+ on port \d+/);
    const state = join(project.dir, '.stepline', 'deployments');
    expect(JSON.parse(readFileSync(join(state, 'live', 'orders', 'Deploy', 'Shift.json'), 'utf8'))).toMatchObject({ executionId: earlier?.executionId });
    expect(JSON.parse(readFileSync(join(state, 'deployments', 'orders', latest?.executionId ?? '', 'Deploy', 'Shift.json'), 'utf8')).record).toMatchObject({
      status: 'RolledBack',
      reason: expect.stringContaining('AfterAllowTraffic hook failed'),
    });
    // The hook wrote in its deployment's working copy: both sealed artifacts still match their manifests,
    // so a rollback to either execution can deploy it again.
    const artifacts = new LocalArtifactStore(join(project.dir, '.stepline', 'artifacts'));
    for (const e of [earlier, latest]) {
      await artifacts.verify('orders', e?.executionId ?? '', 'Src');
      expect(await artifacts.holds('orders', e?.executionId ?? '', 'Src', 'smoke.mjs')).toBe(true);
      expect(existsSync(join(artifacts.dir('orders', e?.executionId ?? '', 'Src'), 'smoke-seen.json'))).toBe(false);
    }
    // The live version keeps its working copy, to be started again by the next run.
    const liveWork = JSON.parse(readFileSync(join(state, 'live', 'orders', 'Deploy', 'Shift.json'), 'utf8')).workDir as string;
    expect(readFileSync(join(liveWork, 'handler.mjs'), 'utf8')).toBe(handler('ok v1'));
    expect(existsSync(join(liveWork, 'smoke-seen.json'))).toBe(true);
  }, 150_000);

  it('runs a deployment whose hooks only its appspec names, skipping those Lambda functions with a line naming each', async () => {
    const port = await freePort();
    project = shiftProject(
      `        strategy: CodeDeployDefault.LambdaAllAtOnce
        terminationWaitMinutes: 0
        lambda: {}
        local: { command: node serve.mjs, port: ${port} }
`,
      {
        'appspec.yml': `version: 0.0
Resources:
  - orders: { Type: AWS::Lambda::Function, Properties: { Name: orders, Alias: live, TargetVersion: 2 } }
Hooks:
  - AfterAllowTraffic: orders-smoke
`,
      },
    );

    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });

    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/✔ Deploy · Shift succeeded in/);
    expect(run.stdout).toContain('AfterAllowTraffic: the appspec names orders-smoke, a Lambda function, which runs on AWS; skipped here');
  }, 90_000);
});
