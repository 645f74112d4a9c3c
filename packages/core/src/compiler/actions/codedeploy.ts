import { SERVER_DEPLOYMENT_CONFIGS } from '../../codedeploy/host-batches';
import type { CodeDeployAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { FUNCTION_TRANSIENT_ERRORS, Resource, retryTransient } from '../integrations';
import { deployStepName } from '../names';
import { actionResultPath } from '../references';
import { choice, type JsonObject, pass, task, wait } from '../states';
import { actionIdentity, addState, artifactLocationExpression, catchAll, grantInvoke } from './common';

/** Where the deployment in flight sits in the state data between its Tasks. */
const DEPLOYMENT_PATH = '$.inPlace';
/**
 * How long a whole in-place deployment may take when the action sets no `timeoutMinutes`. On one machine
 * it runs in its first Task, which this bounds; on AWS that Task only sends the first batch, and the
 * function holds the deployment to the same limit through the deadline it records at start.
 */
const START_MINUTES = 60;
/** An advance asks SSM about one batch (or sends the next): seconds of work. */
const ADVANCE_MINUTES = 5;
/** How often the state machine asks about the batch in flight. */
export const IN_PLACE_POLL_SECONDS = 15;

/** The deployment configuration as a minimum-healthy-hosts rule, which is all the function needs. */
export function minimumHealthyHosts(action: Pick<CodeDeployAction, 'deploymentConfig'>) {
  const config = action.deploymentConfig;
  return typeof config === 'string' ? SERVER_DEPLOYMENT_CONFIGS[config] : config.minimumHealthyHosts;
}

/**
 * A codedeploy action is CodeDeploy's in-place deployment, walked from the state machine:
 *
 *   start (instances found, first batch sent) → done? ─ no → wait → advance (batch answered, next
 *   batch sent, or the rollback's) → done? … ─ yes → deployed
 *
 * A failed deployment ends in an error from start or advance (Stepline.DeploymentRolledBack once the
 * last good revision is back, Stepline.ActionFailed once `timeoutMinutes` have passed since start). Waits cost nothing on Step Functions and the loop keeps the definition
 * the same size however many instances there are. On one machine start runs the whole deployment.
 */
export function compileCodeDeploy(ctx: ActionContext, action: CodeDeployAction): void {
  if (ctx.options.target === 'aws' && (action.ec2 === undefined || action.ec2.tagFilters.length + action.ec2.instanceIds.length === 0))
    ctx.warnings.push({ path: `${ctx.position.path}.ec2`, message: 'a codedeploy action needs ec2 instances (tagFilters or instanceIds) to run on AWS' });
  if (ctx.options.target === 'local' && action.local === undefined)
    ctx.warnings.push({ path: `${ctx.position.path}.local`, message: 'a codedeploy action needs local.root to run on one machine' });

  const fn = ctx.options.functions.codeDeploy;
  grantInvoke(ctx, fn);
  const artifact = action.inputArtifacts[0] ?? '';
  const spec: JsonObject = JSON.parse(
    JSON.stringify({
      applicationName: action.applicationName ?? ctx.pipeline.name,
      deploymentGroupName: action.deploymentGroupName ?? action.name,
      appspec: action.appspec,
      minimumHealthyHosts: minimumHealthyHosts(action),
      autoRollback: action.autoRollback,
      pollSeconds: IN_PLACE_POLL_SECONDS,
      timeoutMinutes: action.timeoutMinutes ?? START_MINUTES,
      ...(action.ec2 && { ec2: action.ec2 }),
    }),
  );
  const payload = (operation: JsonObject): JsonObject => ({
    FunctionName: fn,
    Payload: { ...actionIdentity(ctx), ...operation, spec, revision: { name: artifact, 'location.$': artifactLocationExpression(ctx, artifact) } },
  });
  const retry = retryTransient(FUNCTION_TRANSIENT_ERRORS);
  const name = (step: string) => deployStepName(ctx.name, step);
  const done = name('done?');
  const pause = name('wait');
  const advance = name('advance');
  const deployed = name('deployed');

  addState(
    ctx,
    ctx.name,
    task({
      resource: Resource.LambdaInvoke,
      parameters: payload({ operation: 'start' }),
      resultSelector: { 'deployment.$': '$.Payload' },
      resultPath: DEPLOYMENT_PATH,
      timeoutSeconds: (action.timeoutMinutes ?? START_MINUTES) * 60,
      retry,
      catch: catchAll(ctx.catchTo),
      next: done,
    }),
    { role: 'action' },
  );
  addState(ctx, done, choice([{ Variable: `${DEPLOYMENT_PATH}.deployment.status`, StringEquals: 'Succeeded', Next: deployed }], pause), { role: 'step' });
  addState(ctx, pause, wait({ secondsPath: `${DEPLOYMENT_PATH}.deployment.pollSeconds`, next: advance }), { role: 'step' });
  addState(
    ctx,
    advance,
    task({
      resource: Resource.LambdaInvoke,
      parameters: payload({ operation: 'advance', 'deployment.$': `${DEPLOYMENT_PATH}.deployment` }),
      resultSelector: { 'deployment.$': '$.Payload' },
      resultPath: DEPLOYMENT_PATH,
      timeoutSeconds: ADVANCE_MINUTES * 60,
      retry,
      catch: catchAll(ctx.catchTo),
      next: done,
    }),
    { role: 'step' },
  );
  addState(
    ctx,
    deployed,
    pass({
      parameters: {
        output: {
          'deploymentId.$': `${DEPLOYMENT_PATH}.deployment.deploymentId`,
          'instances.$': `${DEPLOYMENT_PATH}.deployment.succeeded`,
          'failedInstances.$': `${DEPLOYMENT_PATH}.deployment.failed`,
        },
      },
      resultPath: actionResultPath(ctx.key),
      next: ctx.next,
    }),
    { role: 'step', final: true },
  );
}
