/**
 * Turns a deploy action's strategy into the list of steps the state machine walks through, one
 * idempotent canary operation (or one wait) per step, in CodeDeploy's ECS blue/green order:
 * BeforeInstall → install green → AfterInstall → test traffic → AfterAllowTestTraffic →
 * BeforeAllowTraffic → shift production traffic (with bakes) → AfterAllowTraffic.
 * A Lambda deployment walks the same plan: its hooks are only BeforeAllowTraffic and AfterAllowTraffic,
 * it has no test traffic, and `prepare` publishes (or takes) the target version. One that reads its
 * appspec when it runs has both hook steps, as the appspec's `Hooks` are known only then.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-ecs
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-lambda
 */
import { type CanaryStep, type DeployAction, type DeploymentStrategy, LAMBDA_LIFECYCLE_HOOKS, type LifecycleHook } from '../model/schema';
import { PREDEFINED_CONFIGS, type TrafficRouting } from './deployment-configs';
import { readsLambdaAppSpec } from './lambda-appspec';

export type PlanStep =
  | { type: 'hook'; hook: LifecycleHook }
  | { type: 'prepare' }
  | { type: 'allowTestTraffic' }
  | { type: 'setWeight'; weight: number }
  | { type: 'wait'; seconds: number }
  | { type: 'checkAlarms' }
  | { type: 'finalize' };

/** Operations of the canary function: the plan's step types plus the two that follow or replace it. */
export const CanaryOperation = {
  Prepare: 'prepare',
  Hook: 'hook',
  AllowTestTraffic: 'allowTestTraffic',
  SetWeight: 'setWeight',
  CheckAlarms: 'checkAlarms',
  Finalize: 'finalize',
  Cleanup: 'cleanup',
  Rollback: 'rollback',
} as const;
export type CanaryOperation = (typeof CanaryOperation)[keyof typeof CanaryOperation];

export interface PlanOptions {
  /** Alarms are checked this often during a bake. */
  checkIntervalSeconds: number;
  /** Whether a test listener is configured (on AWS), which adds test traffic before production traffic. */
  testTraffic: boolean;
}

/** The explicit steps a strategy stands for (Argo Rollouts style), before bakes are split into checks. */
export function strategySteps(strategy: DeploymentStrategy | undefined): CanaryStep[] {
  if (strategy === undefined) return routingSteps({ type: 'AllAtOnce' });
  if (typeof strategy === 'string') return routingSteps(PREDEFINED_CONFIGS[strategy]);
  if ('canary' in strategy) return routingSteps({ type: 'TimeBasedCanary', ...strategy.canary });
  if ('linear' in strategy) return routingSteps({ type: 'TimeBasedLinear', ...strategy.linear });
  return strategy.steps;
}

function routingSteps(routing: TrafficRouting): CanaryStep[] {
  switch (routing.type) {
    case 'AllAtOnce':
      return [{ setWeight: 100 }];
    case 'TimeBasedCanary':
      return [{ setWeight: routing.percentage }, { pause: { minutes: routing.intervalMinutes } }, { setWeight: 100 }];
    case 'TimeBasedLinear': {
      const steps: CanaryStep[] = [];
      for (let w = routing.percentage; w < 100; w += routing.percentage) {
        steps.push({ setWeight: w }, { pause: { minutes: routing.intervalMinutes } });
      }
      steps.push({ setWeight: 100 });
      return steps;
    }
  }
}

/** A bake: waits of at most one check interval, each followed by an alarm check. */
function bake(seconds: number, interval: number): PlanStep[] {
  const steps: PlanStep[] = [];
  for (let left = Math.round(seconds); left > 0; left -= interval) {
    steps.push({ type: 'wait', seconds: Math.min(interval, left) }, { type: 'checkAlarms' });
  }
  return steps;
}

export function deploymentPlan(action: Pick<DeployAction, 'strategy' | 'hooks' | 'lambda'>, options: PlanOptions): PlanStep[] {
  // A deployment whose appspec is read when it runs may name hooks the definition does not: keep their steps.
  const fromAppSpec: readonly LifecycleHook[] = readsLambdaAppSpec(action) ? LAMBDA_LIFECYCLE_HOOKS : [];
  const hook = (name: LifecycleHook): PlanStep[] => (action.hooks[name] || fromAppSpec.includes(name) ? [{ type: 'hook', hook: name }] : []);
  const shift: PlanStep[] = [];
  let weight = 0;
  for (const step of strategySteps(action.strategy)) {
    if (step.setWeight !== undefined) {
      weight = step.setWeight;
      shift.push({ type: 'setWeight', weight });
    } else if (step.pause) shift.push(...bake(step.pause.minutes * 60, options.checkIntervalSeconds));
    else if (step.checkAlarms) shift.push({ type: 'checkAlarms' });
  }
  // A strategy that stops short of 100% still ends with all traffic on green, as CodeDeploy's do.
  if (weight !== 100) shift.push({ type: 'setWeight', weight: 100 });
  return [
    ...hook('BeforeInstall'),
    { type: 'prepare' },
    ...hook('AfterInstall'),
    ...(options.testTraffic ? [{ type: 'allowTestTraffic' } as const, ...hook('AfterAllowTestTraffic')] : []),
    ...hook('BeforeAllowTraffic'),
    ...shift,
    { type: 'finalize' },
    ...hook('AfterAllowTraffic'),
  ];
}
