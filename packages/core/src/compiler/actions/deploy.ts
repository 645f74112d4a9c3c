import { deploymentPlan } from '../../deploy/plan';
import { ErrorName } from '../../errors';
import type { DeployAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { FUNCTION_TRANSIENT_ERRORS, Resource, retryTransient, Timeout } from '../integrations';
import { deployStepName } from '../names';
import { actionResultPath, escapeLiteral } from '../references';
import { choice, type JsonObject, map, pass, task, wait } from '../states';
import { actionIdentity, addState, artifactLocationExpression, catchAll, grantInvoke } from './common';

const AWS_REQUIRED = ['cluster', 'service', 'containerName', 'containerPort', 'listenerArn', 'targetGroups', 'subnets', 'securityGroups'] as const;

/** Where the plan of the deploy being run sits in the state data; one deploy runs at a time per branch. */
const PLAN_PATH = '$.deployPlan';

/**
 * A deploy action is CodeDeploy's ECS blue/green (or its Lambda traffic shifting, with the same steps
 * against an alias's routing weights), driven step by step from the state machine:
 *
 *   plan (Pass) → steps (Map, one at a time: a canary operation or a bake Wait)
 *     → wait for termination → cleanup (blue deleted)
 *   any error in the steps → rollback (traffic to blue, green deleted) → fail with
 *   Stepline.DeploymentRolledBack, the cause naming the alarm, hook or health check.
 *
 * Waits cost nothing on Step Functions, and the Map keeps the definition the same size however many
 * steps the strategy has.
 */
export function compileDeploy(ctx: ActionContext, action: DeployAction): void {
  const target = ctx.options.target;
  if (target === 'aws') {
    // A Lambda target needs nothing more here: what the definition leaves out, the appspec in the input artifact gives at deploy time.
    if (!action.lambda) {
      const missing = AWS_REQUIRED.filter((k) => action.ecs?.[k] === undefined);
      if (!action.ecs) ctx.warnings.push({ path: `${ctx.position.path}.ecs`, message: 'a deploy action needs an ecs or lambda target to run on AWS' });
      else if (missing.length > 0) ctx.warnings.push({ path: `${ctx.position.path}.ecs`, message: `to deploy on AWS, set ${missing.join(', ')}` });
    }
  }
  if (target === 'local' && !action.local)
    ctx.warnings.push({ path: `${ctx.position.path}.local`, message: 'a deploy action needs a local target (local.command) to run on one machine' });

  const fn = ctx.options.functions.canary;
  grantInvoke(ctx, fn);
  // Hooks are invoked by the canary function, not by the state machine: its role grants them (stacks/).

  const steps = deploymentPlan(action, { checkIntervalSeconds: action.checkIntervalSeconds, testTraffic: action.ecs?.testListenerArn !== undefined });
  const input = action.inputArtifacts[0] ?? '';
  const deployment: JsonObject = JSON.parse(
    JSON.stringify({
      alarms: action.alarms,
      hooks: action.hooks,
      terminationWaitMinutes: action.terminationWaitMinutes,
      ...(action.ecs && { ecs: action.ecs }),
      ...(action.lambda && { lambda: action.lambda }),
      ...(action.local && { local: action.local }),
    }),
  );
  const payload = (operation: JsonObject): JsonObject => ({
    FunctionName: fn,
    Payload: {
      ...actionIdentity(ctx),
      ...operation,
      deployment,
      inputArtifact: { name: input, 'location.$': artifactLocationExpression(ctx, input) },
      ...(action.inputArtifacts.length > 1 && {
        otherInputArtifacts: action.inputArtifacts.slice(1).map((name) => ({ name, 'location.$': artifactLocationExpression(ctx, name) })),
      }),
    },
  });
  const retry = retryTransient(FUNCTION_TRANSIENT_ERRORS);

  const name = (step: string) => deployStepName(ctx.name, step);
  const planName = name('plan');
  const choose = name('next step');
  const bake = name('bake');
  const run = name('run step');
  const terminationWait = name('wait for termination');
  const cleanup = name('cleanup');
  const rollback = name('rollback');
  const rolledBack = name('rolled back');

  addState(ctx, planName, pass({ result: steps as unknown as JsonObject[], resultPath: PLAN_PATH, next: ctx.name }), { role: 'step' });
  addState(
    ctx,
    ctx.name,
    map({
      itemsPath: PLAN_PATH,
      itemSelector: { 'step.$': '$$.Map.Item.Value', 'executionId.$': '$$.Execution.Name' },
      maxConcurrency: 1,
      processor: {
        StartAt: choose,
        States: {
          [choose]: choice([{ Variable: '$.step.type', StringEquals: 'wait', Next: bake }], run),
          [bake]: wait({ secondsPath: '$.step.seconds' }),
          [run]: task({
            resource: Resource.LambdaInvoke,
            parameters: payload({ 'operation.$': '$.step.type', 'step.$': '$.step' }),
            resultSelector: { 'result.$': '$.Payload' },
            timeoutSeconds: Timeout.hookMinutes * 60,
            retry,
          }),
        },
      },
      resultPath: null,
      catch: catchAll(rollback),
      next: terminationWait,
    }),
    { role: 'action' },
  );
  for (const inner of [choose, bake, run]) ctx.stateMap[inner] = { role: 'step', stage: ctx.position.stage, action: action.name, kind: 'deploy' };

  addState(ctx, terminationWait, wait({ seconds: action.terminationWaitMinutes * 60, next: cleanup }), { role: 'step' });
  addState(
    ctx,
    cleanup,
    task({
      resource: Resource.LambdaInvoke,
      parameters: payload({ operation: 'cleanup' }),
      resultSelector: { 'deployment.$': '$.Payload' },
      resultPath: actionResultPath(ctx.key),
      timeoutSeconds: Timeout.cleanupMinutes * 60,
      retry,
      catch: catchAll(ctx.catchTo),
      next: ctx.next,
    }),
    { role: 'step', final: true },
  );
  addState(
    ctx,
    rollback,
    task({
      resource: Resource.LambdaInvoke,
      parameters: payload({ operation: 'rollback', 'reason.$': '$.failure.Cause' }),
      // The rollback answers with the cause in words (a Lambda's Cause is a JSON error document).
      resultSelector: { 'cause.$': '$.Payload.cause' },
      resultPath: '$.failure.rollback',
      timeoutSeconds: Timeout.rollbackMinutes * 60,
      retry,
      catch: catchAll(ctx.catchTo),
      next: rolledBack,
    }),
    { role: 'step' },
  );
  const label = escapeLiteral(`Stage ${ctx.position.stage}, action ${action.name} rolled back`);
  addState(
    ctx,
    rolledBack,
    pass({
      parameters: { Error: ErrorName.DeploymentRolledBack, 'Cause.$': `States.Format('${label} after {}: {}', $.failure.Error, $.failure.rollback.cause)` },
      resultPath: '$.failure',
      next: ctx.failTo,
    }),
    { role: 'failure' },
  );
}

export const deployEntryState = (ctx: Pick<ActionContext, 'name'>) => deployStepName(ctx.name, 'plan');
