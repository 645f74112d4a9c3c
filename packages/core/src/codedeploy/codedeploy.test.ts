import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../errors';
import { refusalOf } from '../testing';
import { installPlan, lifecycleSteps, parseAppSpec, permissionChanges } from './appspec';
import { fleetRule, nextStep, SERVER_DEPLOYMENT_CONFIGS } from './host-batches';
import { afterBatch, type InPlaceDeployment, startDeployment } from './in-place';

const SPEC = `version: 0.0
os: linux
files:
  - source: /
    destination: /srv/app
  - source: conf/nginx.conf
    destination: /etc/nginx
permissions:
  - { object: /srv/app, pattern: "bin/*", except: [bin/keep], mode: 750, owner: app, type: [file] }
hooks:
  ValidateService: [{ location: /scripts/check.sh, timeout: 60 }]
  ApplicationStop: [{ location: scripts/stop.sh, runas: app }]
`;

const issues = (text: string) => refusalOf(() => parseAppSpec(text));

describe('appspec', () => {
  it('parses scripts with their defaults, and orders the events as the agent runs them', () => {
    const spec = parseAppSpec(SPEC);
    expect(spec.hooks.ValidateService).toStrictEqual([{ location: 'scripts/check.sh', timeout: 60 }]);
    expect(spec.hooks.ApplicationStop).toStrictEqual([{ location: 'scripts/stop.sh', timeout: 3600, runas: 'app' }]);
    const previous = parseAppSpec(SPEC.replace('scripts/stop.sh', 'scripts/old-stop.sh'));
    expect(lifecycleSteps(spec, previous).map((s) => [s.event, s.scripts.map((x) => x.location).join(), s.revision])).toStrictEqual([
      ['BeforeBlockTraffic', '', 'previous'],
      ['AfterBlockTraffic', '', 'previous'],
      ['ApplicationStop', 'scripts/old-stop.sh', 'previous'],
      ['DownloadBundle', '', 'current'],
      ['BeforeInstall', '', 'current'],
      ['Install', '', 'current'],
      ['AfterInstall', '', 'current'],
      ['ApplicationStart', '', 'current'],
      ['ValidateService', 'scripts/check.sh', 'current'],
      ['BeforeAllowTraffic', '', 'current'],
      ['AfterAllowTraffic', '', 'current'],
    ]);
    // A first deployment has no previous revision: no stop scripts.
    expect(lifecycleSteps(spec, undefined).find((s) => s.event === 'ApplicationStop')?.scripts).toStrictEqual([]);
  });

  it('refuses what the agent refuses, each at its path', () => {
    expect(
      issues(`version: 1
os: macos
files: [{ source: ../etc, destination: var/www }]
hooks:
  Install: [{ location: a.sh }]
  AfterInstal: [{ location: a.sh }]
  ApplicationStart: [{ location: a.sh, timeout: 3000 }, { location: b.sh, timeout: 1000 }]
  ValidateService: [{ location: a.sh, timeout: 0 }]
`),
    ).toStrictEqual([
      'version: expected version 0.0, got 1',
      'os: expected linux or windows, got "macos"',
      'files[0].source: expected a path in the revision inside the revision, without .., got "../etc"',
      'files[0].destination: expected an absolute path on the instance, got "var/www"',
      'hooks.ValidateService[0].timeout: expected 1 to 3600 seconds, got 0',
    ]);
    expect(
      issues(`version: 0.0
os: linux
hooks:
  Install: [{ location: a.sh }]
  AfterInstal: [{ location: a.sh }]
  ApplicationStart: [{ location: a.sh, timeout: 3000 }, { location: b.sh, timeout: 1000 }]
`),
    ).toStrictEqual([
      "hooks.Install: Install is the agent's own work and takes no scripts",
      'hooks.AfterInstal: expected one of BeforeBlockTraffic, AfterBlockTraffic, ApplicationStop, BeforeInstall, AfterInstall, ApplicationStart, ValidateService, BeforeAllowTraffic, AfterAllowTraffic',
      "hooks.ApplicationStart: the scripts' timeouts add up to 4000 seconds; one lifecycle event may take at most 3600",
    ]);
  });

  it('maps each file of the revision to its destination, and applies permissions to the files below their object', () => {
    const spec = parseAppSpec(SPEC);
    const files = installPlan(spec, ['appspec.yml', 'bin/run', 'bin/keep', 'conf/nginx.conf']);
    expect(files).toStrictEqual([
      { from: 'appspec.yml', to: '/srv/app/appspec.yml' },
      { from: 'bin/run', to: '/srv/app/bin/run' },
      { from: 'bin/keep', to: '/srv/app/bin/keep' },
      { from: 'conf/nginx.conf', to: '/srv/app/conf/nginx.conf' },
      { from: 'conf/nginx.conf', to: '/etc/nginx/nginx.conf' },
    ]);
    expect(
      permissionChanges(
        spec,
        files.map((f) => f.to),
      ),
    ).toStrictEqual([{ path: '/srv/app/bin/run', mode: '750', owner: 'app' }]);
    expect(() => installPlan(parseAppSpec(SPEC.replace('conf/nginx.conf', 'conf/missing.conf')), ['conf/nginx.conf'])).toThrow(
      new DefinitionError([{ path: 'files[1].source', message: 'conf/missing.conf is not in the revision' }], 'appspec'),
    );
  });
});

describe('deployment configurations', () => {
  const nine = Array.from({ length: 9 }, (_, i) => `i-${i}`);
  const first = (rule: ReturnType<typeof fleetRule>) => nextStep(rule, nine, { succeeded: 0, failed: 0 });

  it('batch a fleet as CodeDeploy documents it', () => {
    // HOST_COUNT 6 of nine: three at a time, six must succeed; FLEET_PERCENT 40: five at a time, four must.
    expect(first(fleetRule({ type: 'HOST_COUNT', value: 6 }, 9))).toStrictEqual({ verdict: 'continue', batch: nine.slice(0, 3) });
    expect(fleetRule({ type: 'HOST_COUNT', value: 6 }, 9).minimumSuccessful).toBe(6);
    expect(first(fleetRule({ type: 'FLEET_PERCENT', value: 40 }, 9))).toStrictEqual({ verdict: 'continue', batch: nine.slice(0, 5) });
    expect(fleetRule({ type: 'FLEET_PERCENT', value: 40 }, 9).minimumSuccessful).toBe(4);
    // All at once, one success is enough; half at a time rounded down, half must succeed rounded up; one at a time.
    expect(first(fleetRule(SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.AllAtOnce'], 9))).toStrictEqual({ verdict: 'continue', batch: nine });
    expect(fleetRule(SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.AllAtOnce'], 9).minimumSuccessful).toBe(1);
    expect(first(fleetRule(SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.HalfAtATime'], 9))).toStrictEqual({ verdict: 'continue', batch: nine.slice(0, 4) });
    expect(fleetRule(SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.HalfAtATime'], 9).minimumSuccessful).toBe(5);
    expect(first(fleetRule(SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.OneAtATime'], 9))).toStrictEqual({ verdict: 'continue', batch: ['i-0'] });
    expect(() => fleetRule({ type: 'HOST_COUNT', value: 2 }, 2)).toThrow('2 instances cannot keep 2 healthy while one is deployed');
  });

  it('counts failed hosts as unhealthy: the next batch shrinks, and none is sent when the minimum would break', () => {
    const rule = fleetRule({ type: 'HOST_COUNT', value: 6 }, 9);
    // One of the first three failed: eight can still serve, so two go next.
    expect(nextStep(rule, nine.slice(3), { succeeded: 2, failed: 1 })).toStrictEqual({ verdict: 'continue', batch: ['i-3', 'i-4'] });
    // Three failed: six remain, none may go down.
    expect(nextStep(rule, nine.slice(3), { succeeded: 0, failed: 3 })).toStrictEqual({ verdict: 'failed' });
  });

  it('OneAtATime fails at once when a host other than the last fails, and succeeds when only the last does', () => {
    const rule = fleetRule(SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.OneAtATime'], 3);
    expect(nextStep(rule, ['i-b', 'i-c'], { succeeded: 0, failed: 1 })).toStrictEqual({ verdict: 'failed' });
    expect(nextStep(rule, [], { succeeded: 2, failed: 1 })).toStrictEqual({ verdict: 'succeeded' });
    expect(nextStep(fleetRule(SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.OneAtATime'], 1), [], { succeeded: 0, failed: 1 })).toStrictEqual({
      verdict: 'failed',
    });
  });
});

describe('an in-place deployment, batch by batch', () => {
  const start = (lastGood = true): InPlaceDeployment =>
    startDeployment({
      deploymentId: 'd-2',
      revision: { location: 'b/p/e2/Src/', executionId: 'e2' },
      ...(lastGood && { lastGood: { location: 'b/p/e1/Src/', executionId: 'e1' } }),
      autoRollback: true,
      hosts: ['i-c', 'i-a', 'i-b', 'i-d'],
      minimumHealthyHosts: SERVER_DEPLOYMENT_CONFIGS['CodeDeployDefault.HalfAtATime'],
      pollSeconds: 15,
    });

  it('goes through the batches and succeeds', () => {
    const d = start();
    expect(d.batches).toStrictEqual([['i-a', 'i-b']]);
    const second = afterBatch({ ...d, commands: ['c1'] }, [
      { host: 'i-a', ok: true },
      { host: 'i-b', ok: true },
    ]);
    expect(second).toMatchObject({
      kind: 'send',
      deployment: {
        batches: [
          ['i-a', 'i-b'],
          ['i-c', 'i-d'],
        ],
        succeeded: ['i-a', 'i-b'],
      },
    });
    expect(second.kind === 'send' && second.deployment.commands).toBeUndefined();
    const end = afterBatch((second as { deployment: InPlaceDeployment }).deployment, [
      { host: 'i-c', ok: false, reason: 'ValidateService: x exited with 1' },
      { host: 'i-d', ok: true },
    ]);
    expect(end).toMatchObject({
      kind: 'succeeded',
      deployment: { status: 'Succeeded', failed: [{ host: 'i-c', reason: 'ValidateService: x exited with 1' }] },
    });
  });

  it('rolls back the hosts it touched to the last good revision, and says so when that is done', () => {
    const failed = afterBatch(start(), [
      { host: 'i-a', ok: false, reason: 'BeforeInstall: x exited with 2' },
      { host: 'i-b', ok: false, reason: 'BeforeInstall: x exited with 2' },
    ]);
    expect(failed.kind).toBe('send');
    const rollback = (failed as { deployment: InPlaceDeployment }).deployment;
    expect(rollback).toMatchObject({ phase: 'rollback', revision: { executionId: 'e1' }, hosts: ['i-a', 'i-b'], batches: [['i-a', 'i-b']] });
    expect(
      afterBatch(rollback, [
        { host: 'i-a', ok: true },
        { host: 'i-b', ok: true },
      ]),
    ).toStrictEqual({
      kind: 'rolledBack',
      message:
        '2 of 4 instances failed, 2 must succeed (i-a: BeforeInstall: x exited with 2; i-b: BeforeInstall: x exited with 2); rolled back to the revision of execution e1',
    });
    expect(
      afterBatch(rollback, [
        { host: 'i-a', ok: false, reason: 'r' },
        { host: 'i-b', ok: true },
      ]).kind,
    ).toBe('rollbackFailed');
  });

  it('fails without a rollback when nothing deployed before', () => {
    expect(
      afterBatch(start(false), [
        { host: 'i-a', ok: false, reason: 'r' },
        { host: 'i-b', ok: false, reason: 'r' },
      ]),
    ).toStrictEqual({
      kind: 'failed',
      message: '2 of 4 instances failed, 2 must succeed (i-a: r; i-b: r); no earlier revision deployed successfully, so there is nothing to roll back to',
    });
  });
});
