/**
 * A codedeploy action on one machine, run by `stepline run`: the revision's appspec.yml installs into
 * a directory standing for an instance's `/`, every hook runs in the agent's order, and a failing
 * ValidateService (or a hook past its timeout) brings the last good revision back.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, pipelineYaml, runCli } from './helpers/project';

let project: Project | undefined;
afterEach(() => project?.remove());

const EVENTS = [
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'BeforeInstall',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
];

const APPSPEC = (applicationStartTimeout = 30) => `version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/app
  - source: config/app.conf
    destination: /etc/app
permissions:
  - object: /var/www/app
    pattern: "*.sh"
    mode: 750
    type: [file]
hooks:
${EVENTS.map((e) => `  ${e}:\n    - location: scripts/hook.sh\n      timeout: ${e === 'ApplicationStart' ? applicationStartTimeout : 30}\n      runas: root`).join('\n')}
`;

/** Every hook notes its event, the revision it comes from, and the deployment, in the instance's journal. */
const HOOK = `#!/bin/sh
set -e
version=$(cat "$(dirname "$0")/../VERSION")
echo "$LIFECYCLE_EVENT $version" >> "$STEPLINE_ROOT/journal"
case "$LIFECYCLE_EVENT" in
  ApplicationStart) [ -f "$(dirname "$0")/slow" ] && sleep 30; true ;;
  ValidateService) grep -q healthy "$STEPLINE_ROOT/var/www/app/health" || { echo "health check failed" >&2; exit 3; } ;;
esac
`;

const revision = (version: string, health: string, extra: Record<string, string> = {}) => ({
  'appspec.yml': APPSPEC(),
  'scripts/hook.sh': HOOK,
  VERSION: version,
  'app/index.html': `<h1>${version}</h1>\n`,
  'app/health': `${health}\n`,
  'app/run.sh': 'echo run\n',
  'config/app.conf': `version=${version}\n`,
  ...extra,
});

const PIPELINE = pipelineYaml(
  'inplace',
  `  - name: Deploy
    actions: [{ name: Web, kind: codedeploy, inputArtifacts: [Src], deploymentConfig: CodeDeployDefault.AllAtOnce, local: { root: host } }]`,
);

describe('codedeploy on one machine', () => {
  it('installs with every hook in order, then rolls back to the last good revision when ValidateService fails', async () => {
    project = createProject({ 'stepline.yml': PIPELINE, ...revision('v1', 'healthy') });
    const host = (...p: string[]) => join(project?.dir ?? '', 'host', ...p);
    const journal = () => readFileSync(host('journal'), 'utf8').trim().split('\n');

    const first = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/✔ Deploy · Web succeeded in/);
    expect(readFileSync(host('var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(readFileSync(host('etc/app/app.conf'), 'utf8')).toBe('version=v1\n');
    // The stop events belong to the previous revision: a first deployment has none to run.
    expect(journal()).toStrictEqual([
      'BeforeInstall v1',
      'AfterInstall v1',
      'ApplicationStart v1',
      'ValidateService v1',
      'BeforeAllowTraffic v1',
      'AfterAllowTraffic v1',
    ]);
    expect((await import('node:fs')).statSync(host('var/www/app/run.sh')).mode & 0o777).toBe(0o750);

    // v2 adds a file and fails its health check.
    for (const [path, content] of Object.entries(revision('v2', 'broken', { 'app/new.html': 'new\n' }))) project.write(path, content);
    project.commitAll('v2');
    const second = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(second.code).toBe(1);
    expect(second.stdout).toContain('Stepline.DeploymentRolledBack');
    expect(second.stdout).toContain('ValidateService: scripts/hook.sh exited with 3; rolled back to d-');
    expect(readFileSync(host('var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(readFileSync(host('etc/app/app.conf'), 'utf8')).toBe('version=v1\n');
    expect(existsSync(host('var/www/app/new.html'))).toBe(false);
    expect(journal().slice(6)).toStrictEqual([
      // v2's deployment: v1's stop scripts, then v2's until ValidateService fails.
      'BeforeBlockTraffic v1',
      'AfterBlockTraffic v1',
      'ApplicationStop v1',
      'BeforeInstall v2',
      'AfterInstall v2',
      'ApplicationStart v2',
      'ValidateService v2',
      // The rollback: a deployment of v1, whose own stop scripts run (v2 never succeeded).
      'BeforeBlockTraffic v1',
      'AfterBlockTraffic v1',
      'ApplicationStop v1',
      'BeforeInstall v1',
      'AfterInstall v1',
      'ApplicationStart v1',
      'ValidateService v1',
      'BeforeAllowTraffic v1',
      'AfterAllowTraffic v1',
    ]);
  }, 120_000);

  it('ends a hook at its timeout and rolls back', async () => {
    project = createProject({ 'stepline.yml': PIPELINE, ...revision('v1', 'healthy') });
    expect((await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 })).code).toBe(0);
    for (const [path, content] of Object.entries(revision('v2', 'healthy', { 'scripts/slow': '', 'appspec.yml': APPSPEC(2) }))) project.write(path, content);
    project.commitAll('slow v2');
    const started = Date.now();
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('ApplicationStart: scripts/hook.sh timed out after 2 s; rolled back to d-');
    expect(readFileSync(join(project.dir, 'host', 'var/www/app/index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
  }, 120_000);

  it('refuses a bad appspec with the path of what is wrong', async () => {
    const bad = APPSPEC().replace(
      '  ValidateService:\n    - location: scripts/hook.sh\n      timeout: 30',
      '  ValidateService:\n    - location: scripts/hook.sh\n      timeout: 7200',
    );
    project = createProject({ 'stepline.yml': PIPELINE, ...revision('v1', 'healthy'), 'appspec.yml': `${bad}  Install:\n    - location: x.sh\n` });
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('appspec.yml: 2 problems');
    expect(run.stdout).toContain('hooks.ValidateService[0].timeout: expected 1 to 3600 seconds, got 7200');
    expect(run.stdout).toContain("hooks.Install: Install is the agent's own work and takes no scripts");
    expect(existsSync(join(project.dir, 'host', 'var'))).toBe(false);
  }, 120_000);
});
