/**
 * A codedeploy action on one machine, run by `stepline run`: the revision's appspec.yml installs into
 * a directory standing for an instance's `/`, every hook runs in the agent's order, and a failing
 * ValidateService (or a hook past its timeout) brings the last good revision back.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appspecWithEveryHook, firstDeploymentJournal, revisionFiles, rolledBackJournal } from './helpers/appspec-revision';
import { processesWithEnvironment } from './helpers/processes';
import { createProject, type Project, pipelineYaml, runCli } from './helpers/project';

let project: Project | undefined;
afterEach(() => project?.remove());

const PIPELINE = pipelineYaml(
  'inplace',
  `  - name: Deploy
    actions: [{ name: Web, kind: codedeploy, inputArtifacts: [Src], deploymentConfig: CodeDeployDefault.AllAtOnce, local: { root: host } }]`,
);

describe('codedeploy on one machine', () => {
  it('installs with every hook in order, then rolls back to the last good revision when ValidateService fails', async () => {
    project = createProject({ 'stepline.yml': PIPELINE, ...revisionFiles('v1', 'healthy') });
    const host = (...p: string[]) => join(project?.dir ?? '', 'host', ...p);
    const journal = () => readFileSync(host('journal'), 'utf8').trim().split('\n');

    const first = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/✔ Deploy · Web succeeded in/);
    expect(readFileSync(host('var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(readFileSync(host('etc/app/app.conf'), 'utf8')).toBe('version=v1\n');
    // The stop events belong to the previous revision: a first deployment has none to run.
    expect(journal()).toStrictEqual(firstDeploymentJournal('v1'));
    expect(statSync(host('var/www/app/run.sh')).mode & 0o777).toBe(0o750);

    // v2 adds a file and fails its health check.
    for (const [path, content] of Object.entries(revisionFiles('v2', 'broken', { 'app/new.html': 'new\n' }))) project.write(path, content);
    project.commitAll('v2');
    const second = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(second.code).toBe(1);
    expect(second.stdout).toContain('Stepline.DeploymentRolledBack');
    expect(second.stdout).toContain('ValidateService: scripts/hook.sh exited with 3; rolled back to d-');
    expect(readFileSync(host('var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(readFileSync(host('etc/app/app.conf'), 'utf8')).toBe('version=v1\n');
    expect(existsSync(host('var/www/app/new.html'))).toBe(false);
    expect(journal().slice(6)).toStrictEqual(rolledBackJournal('v1', 'v2'));
  }, 120_000);

  it('ends a hook at its timeout and rolls back', async () => {
    project = createProject({ 'stepline.yml': PIPELINE, ...revisionFiles('v1', 'healthy') });
    expect((await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 })).code).toBe(0);
    for (const [path, content] of Object.entries(revisionFiles('v2', 'healthy', { 'scripts/slow': '' }, appspecWithEveryHook({ applicationStartTimeout: 2 }))))
      project.write(path, content);
    project.commitAll('slow v2');
    const started = Date.now();
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('ApplicationStart: scripts/hook.sh timed out after 2 s; rolled back to d-');
    expect(readFileSync(join(project.dir, 'host', 'var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
  }, 120_000);

  it('keeps a daemon that ApplicationStart started running for the later hooks, as the agent does, and ends it with the runner', async () => {
    project = createProject({ 'stepline.yml': PIPELINE, ...revisionFiles('v1', 'healthy', { 'scripts/daemon': '' }) });
    const mark = `daemon-${Date.now()}`;
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000, env: { STEPLINE_DAEMON_TEST: mark } });
    expect(run.stdout).toMatch(/✔ Deploy · Web succeeded in/);
    expect(run.code).toBe(0);
    // Nothing outlives the runner: the daemon (which called setsid) ended with `stepline run`.
    const deadline = Date.now() + 10_000;
    while (processesWithEnvironment('STEPLINE_DAEMON_TEST', mark).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(processesWithEnvironment('STEPLINE_DAEMON_TEST', mark)).toStrictEqual([]);
  }, 120_000);

  it('refuses a bad appspec with the path of what is wrong', async () => {
    const bad = appspecWithEveryHook().replace(
      '  ValidateService:\n    - location: scripts/hook.sh\n      timeout: 30',
      '  ValidateService:\n    - location: scripts/hook.sh\n      timeout: 7200',
    );
    project = createProject({ 'stepline.yml': PIPELINE, ...revisionFiles('v1', 'healthy'), 'appspec.yml': `${bad}  Install:\n    - location: x.sh\n` });
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('appspec.yml: 2 problems');
    expect(run.stdout).toContain('hooks.ValidateService[0].timeout: expected 1 to 3600 seconds, got 7200');
    expect(run.stdout).toContain("hooks.Install: Install is the agent's own work and takes no scripts");
    expect(existsSync(join(project.dir, 'host', 'var'))).toBe(false);
  }, 120_000);
});
