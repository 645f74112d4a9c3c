import { describe, expect, it } from 'vitest';
import type { DeploymentStrategy, LifecycleHook } from '../model/schema';
import { DEPLOYMENT_CONFIG_NAMES, PREDEFINED_CONFIGS, PREDEFINED_ECS_CONFIGS, PREDEFINED_LAMBDA_CONFIGS } from './deployment-configs';
import { deploymentPlan, type PlanStep, strategySteps } from './plan';

const options = { checkIntervalSeconds: 60, testTraffic: false };
const plan = (strategy: DeploymentStrategy, o = options, hooks: Partial<Record<LifecycleHook, string>> = {}) => deploymentPlan({ strategy, hooks }, o);

/** The shifting part of a plan, between prepare and finalize, written compactly: 10, w60, c, 100. */
const shift = (steps: PlanStep[]) =>
  steps.flatMap((s): Array<number | string> => {
    if (s.type === 'setWeight') return [s.weight];
    if (s.type === 'wait') return [`w${s.seconds}`];
    if (s.type === 'checkAlarms') return ['c'];
    return [];
  });

describe('predefined ECS deployment configurations', () => {
  it('are CodeDeploy’s five, by their exact names', () => {
    expect(Object.keys(PREDEFINED_ECS_CONFIGS)).toStrictEqual([
      'CodeDeployDefault.ECSAllAtOnce',
      'CodeDeployDefault.ECSLinear10PercentEvery1Minutes',
      'CodeDeployDefault.ECSLinear10PercentEvery3Minutes',
      'CodeDeployDefault.ECSCanary10Percent5Minutes',
      'CodeDeployDefault.ECSCanary10Percent15Minutes',
    ]);
  });

  it('ECSAllAtOnce moves all traffic in one step', () => {
    expect(plan('CodeDeployDefault.ECSAllAtOnce')).toStrictEqual([{ type: 'prepare' }, { type: 'setWeight', weight: 100 }, { type: 'finalize' }]);
  });

  it('ECSCanary10Percent5Minutes: 10%, a five-minute bake checked every interval, then the rest', () => {
    expect(plan('CodeDeployDefault.ECSCanary10Percent5Minutes')).toStrictEqual([
      { type: 'prepare' },
      { type: 'setWeight', weight: 10 },
      ...Array.from({ length: 5 }, () => [{ type: 'wait', seconds: 60 } as const, { type: 'checkAlarms' } as const]).flat(),
      { type: 'setWeight', weight: 100 },
      { type: 'finalize' },
    ]);
  });

  it('ECSCanary10Percent15Minutes bakes fifteen minutes', () => {
    const steps = plan('CodeDeployDefault.ECSCanary10Percent15Minutes');
    expect(shift(steps)).toStrictEqual([10, ...Array.from({ length: 15 }, () => ['w60', 'c']).flat(), 100]);
  });

  it('ECSLinear10PercentEvery1Minutes: nine steps of 10% with a one-minute bake after each, then 100%', () => {
    expect(shift(plan('CodeDeployDefault.ECSLinear10PercentEvery1Minutes'))).toStrictEqual([
      10,
      'w60',
      'c',
      20,
      'w60',
      'c',
      30,
      'w60',
      'c',
      40,
      'w60',
      'c',
      50,
      'w60',
      'c',
      60,
      'w60',
      'c',
      70,
      'w60',
      'c',
      80,
      'w60',
      'c',
      90,
      'w60',
      'c',
      100,
    ]);
  });

  it('ECSLinear10PercentEvery3Minutes checks alarms every interval during each three-minute bake', () => {
    const steps = shift(plan('CodeDeployDefault.ECSLinear10PercentEvery3Minutes', { checkIntervalSeconds: 90, testTraffic: false }));
    expect(steps.slice(0, 6)).toStrictEqual([10, 'w90', 'c', 'w90', 'c', 20]);
    expect(steps.filter((s) => typeof s === 'number')).toStrictEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(steps.filter((s) => s === 'c')).toHaveLength(18);
  });

  it('every predefined configuration ends with all traffic on green, then finalize', () => {
    for (const name of DEPLOYMENT_CONFIG_NAMES) {
      const steps = plan(name);
      expect(steps.at(-2), name).toStrictEqual({ type: 'setWeight', weight: 100 });
      expect(steps.at(-1), name).toStrictEqual({ type: 'finalize' });
      expect(PREDEFINED_CONFIGS[name].type, name).toMatch(/AllAtOnce|TimeBasedCanary|TimeBasedLinear/);
    }
  });
});

describe('predefined Lambda deployment configurations', () => {
  it('are CodeDeploy’s nine, by their exact names', () => {
    expect(Object.keys(PREDEFINED_LAMBDA_CONFIGS)).toStrictEqual([
      'CodeDeployDefault.LambdaAllAtOnce',
      'CodeDeployDefault.LambdaCanary10Percent5Minutes',
      'CodeDeployDefault.LambdaCanary10Percent10Minutes',
      'CodeDeployDefault.LambdaCanary10Percent15Minutes',
      'CodeDeployDefault.LambdaCanary10Percent30Minutes',
      'CodeDeployDefault.LambdaLinear10PercentEvery1Minute',
      'CodeDeployDefault.LambdaLinear10PercentEvery2Minutes',
      'CodeDeployDefault.LambdaLinear10PercentEvery3Minutes',
      'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes',
    ]);
    expect(DEPLOYMENT_CONFIG_NAMES).toStrictEqual([...Object.keys(PREDEFINED_ECS_CONFIGS), ...Object.keys(PREDEFINED_LAMBDA_CONFIGS)]);
  });

  it.each([
    ['CodeDeployDefault.LambdaAllAtOnce', [100]],
    ['CodeDeployDefault.LambdaCanary10Percent5Minutes', [10, ...Array(5).fill(['w60', 'c']).flat(), 100]],
    ['CodeDeployDefault.LambdaCanary10Percent10Minutes', [10, ...Array(10).fill(['w60', 'c']).flat(), 100]],
    ['CodeDeployDefault.LambdaCanary10Percent15Minutes', [10, ...Array(15).fill(['w60', 'c']).flat(), 100]],
    ['CodeDeployDefault.LambdaCanary10Percent30Minutes', [10, ...Array(30).fill(['w60', 'c']).flat(), 100]],
  ] as const)('%s shifts %j', (name, expected) => {
    expect(shift(plan(name))).toStrictEqual(expected);
  });

  it.each([
    ['CodeDeployDefault.LambdaLinear10PercentEvery1Minute', 1],
    ['CodeDeployDefault.LambdaLinear10PercentEvery2Minutes', 2],
    ['CodeDeployDefault.LambdaLinear10PercentEvery3Minutes', 3],
    ['CodeDeployDefault.LambdaLinear10PercentEvery10Minutes', 10],
  ] as const)('%s adds 10%% every %i minute(s), alarms checked every interval', (name, minutes) => {
    const steps = shift(plan(name));
    expect(steps.filter((s) => typeof s === 'number')).toStrictEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(steps.filter((s) => s === 'w60')).toHaveLength(9 * minutes);
    expect(steps.filter((s) => s === 'c')).toHaveLength(9 * minutes);
  });

  it('runs a Lambda deployment’s two hooks around the shift, as CodeDeploy does', () => {
    const steps = plan('CodeDeployDefault.LambdaAllAtOnce', options, { BeforeAllowTraffic: 'pre', AfterAllowTraffic: 'post' });
    expect(steps).toStrictEqual([
      { type: 'prepare' },
      { type: 'hook', hook: 'BeforeAllowTraffic' },
      { type: 'setWeight', weight: 100 },
      { type: 'finalize' },
      { type: 'hook', hook: 'AfterAllowTraffic' },
    ]);
  });

  it('keeps both hook steps of a deployment that reads its appspec when it runs, whose Hooks are known only then', () => {
    const steps = deploymentPlan({ strategy: 'CodeDeployDefault.LambdaAllAtOnce', hooks: {}, lambda: {} }, options);
    expect(steps.filter((s) => s.type === 'hook')).toStrictEqual([
      { type: 'hook', hook: 'BeforeAllowTraffic' },
      { type: 'hook', hook: 'AfterAllowTraffic' },
    ]);
    const named = deploymentPlan({ strategy: 'CodeDeployDefault.LambdaAllAtOnce', hooks: {}, lambda: { functionName: 'orders', alias: 'live' } }, options);
    expect(named.filter((s) => s.type === 'hook')).toStrictEqual([]);
  });

  it('shifts all at once when no strategy is given', () => {
    expect(plan(undefined as unknown as DeploymentStrategy)).toStrictEqual([{ type: 'prepare' }, { type: 'setWeight', weight: 100 }, { type: 'finalize' }]);
  });
});

describe('custom configurations', () => {
  it('TimeBasedCanary: percentage, bake, rest', () => {
    expect(shift(plan({ canary: { percentage: 25, intervalMinutes: 2 } }))).toStrictEqual([25, 'w60', 'c', 'w60', 'c', 100]);
  });

  it('TimeBasedLinear with a step that does not divide 100 bakes after its last step too', () => {
    expect(shift(plan({ linear: { percentage: 30, intervalMinutes: 1 } }))).toStrictEqual([30, 'w60', 'c', 60, 'w60', 'c', 90, 'w60', 'c', 100]);
  });

  it('explicit steps, in the manner of Argo Rollouts', () => {
    const steps = strategySteps({ steps: [{ setWeight: 5 }, { pause: { minutes: 0.5 } }, { checkAlarms: {} }, { setWeight: 50 }] });
    expect(steps).toStrictEqual([{ setWeight: 5 }, { pause: { minutes: 0.5 } }, { checkAlarms: {} }, { setWeight: 50 }]);
    expect(shift(plan({ steps }, { checkIntervalSeconds: 20, testTraffic: false }))).toStrictEqual([5, 'w20', 'c', 'w10', 'c', 'c', 50, 100]);
  });

  it('explicit steps that reach 100% get no second 100%', () => {
    expect(shift(plan({ steps: [{ setWeight: 20 }, { pause: { minutes: 1 } }, { setWeight: 100 }] }))).toStrictEqual([20, 'w60', 'c', 100]);
  });
});

describe('bakes', () => {
  it('are split into waits of at most one check interval, each followed by an alarm check', () => {
    expect(shift(plan({ canary: { percentage: 10, intervalMinutes: 5 } }, { checkIntervalSeconds: 120, testTraffic: false }))).toStrictEqual([
      10,
      'w120',
      'c',
      'w120',
      'c',
      'w60',
      'c',
      100,
    ]);
  });

  it('with an interval longer than the bake, wait the bake once', () => {
    expect(shift(plan({ canary: { percentage: 10, intervalMinutes: 1 } }, { checkIntervalSeconds: 600, testTraffic: false }))).toStrictEqual([
      10,
      'w60',
      'c',
      100,
    ]);
  });
});

describe('lifecycle hooks and test traffic', () => {
  const everyHook = {
    BeforeInstall: 'before-install',
    AfterInstall: 'after-install',
    AfterAllowTestTraffic: 'after-test',
    BeforeAllowTraffic: 'before-traffic',
    AfterAllowTraffic: 'after-traffic',
  };

  it('run in CodeDeploy’s ECS order around install, test traffic and production traffic', () => {
    expect(plan('CodeDeployDefault.ECSAllAtOnce', { checkIntervalSeconds: 60, testTraffic: true }, everyHook)).toStrictEqual([
      { type: 'hook', hook: 'BeforeInstall' },
      { type: 'prepare' },
      { type: 'hook', hook: 'AfterInstall' },
      { type: 'allowTestTraffic' },
      { type: 'hook', hook: 'AfterAllowTestTraffic' },
      { type: 'hook', hook: 'BeforeAllowTraffic' },
      { type: 'setWeight', weight: 100 },
      { type: 'finalize' },
      { type: 'hook', hook: 'AfterAllowTraffic' },
    ]);
  });

  it('test traffic (and its hook) only when a test listener is configured', () => {
    const steps = plan('CodeDeployDefault.ECSAllAtOnce', options, everyHook);
    expect(steps.map((s) => (s.type === 'hook' ? s.hook : s.type))).toStrictEqual([
      'BeforeInstall',
      'prepare',
      'AfterInstall',
      'BeforeAllowTraffic',
      'setWeight',
      'finalize',
      'AfterAllowTraffic',
    ]);
  });

  it('only the hooks that are configured appear', () => {
    const steps = plan('CodeDeployDefault.ECSCanary10Percent5Minutes', options, { BeforeAllowTraffic: 'validate' });
    expect(steps.slice(0, 3)).toStrictEqual([{ type: 'prepare' }, { type: 'hook', hook: 'BeforeAllowTraffic' }, { type: 'setWeight', weight: 10 }]);
    expect(steps.filter((s) => s.type === 'hook')).toHaveLength(1);
  });
});
