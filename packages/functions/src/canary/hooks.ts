/**
 * Lifecycle hooks as Lambda functions, invoked synchronously in CodeDeploy's order, with CodeDeploy's
 * event (`DeploymentId`, `LifecycleEventHookExecutionId`) and stepline's own fields beside it. A hook
 * fails when its function fails (an error or a timeout) or answers `{ "status": "Failed" }`; anything
 * else is success. CodeDeploy's hooks report back with PutLifecycleEventHookExecutionStatus; stepline
 * has no CodeDeploy deployment to report to, so the answer is the report: a hook written for
 * CodeDeploy returns the status it would have put.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-ecs
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#reference-appspec-file-structure-hooks-section-structure-lambda-sample-function
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { CanaryRequest, HookContext, HookOutcome, HookRunner } from '@stepline/core';
import { type RetryOptions, retryTransient } from './retry';

/** What a hook function receives. */
export interface HookEvent {
  /** CodeDeploy's fields, so that a hook written for CodeDeploy finds them where it looks. */
  DeploymentId: string;
  LifecycleEventHookExecutionId: string;
  hook: HookContext['hook'];
  pipeline: string;
  stage: string;
  action: string;
  executionId: string;
  /** The deployment's id (on ECS, the green task set's externalId). */
  deploymentId: string;
  cluster: string | undefined;
  service: string | undefined;
  blueTaskSetArn: string | undefined;
  greenTaskSetArn: string | undefined;
  /** Where test traffic reaches green, when a test listener is configured. */
  testListenerArn: string | undefined;
  /** A Lambda deployment: the function, its alias, and the versions traffic moves between. */
  lambda?: { functionName: string | undefined; alias: string | undefined; currentVersion: string | undefined; targetVersion: string | undefined };
}

/** One id per hook of one deployment: the same on a retry, as the hook may be invoked twice. */
export const hookExecutionId = (deploymentId: string, hook: string) => `${deploymentId}-${hook}`;

export class LambdaHooks implements HookRunner {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly request: CanaryRequest,
    private readonly deploymentId: string,
    private readonly retry: RetryOptions = {},
  ) {}

  async run(context: HookContext): Promise<HookOutcome> {
    const spec = this.request.deployment.hooks[context.hook];
    // Only a deployment that reads its appspec has a step for a hook nobody named (see `deploymentPlan`).
    if (spec === undefined) return { succeeded: true, detail: `no ${context.hook} hook: neither the appspec nor the definition names one` };
    const fn = typeof spec === 'string' ? spec : spec.function;
    if (fn === undefined) {
      // Skipping would silently drop a check the pipeline asked for.
      return { succeeded: false, detail: `${context.hook} names only a command, which runs on one machine; give it a function to run on AWS` };
    }
    const { request } = this;
    const lambda = request.deployment.lambda;
    const event: HookEvent = {
      DeploymentId: this.deploymentId,
      LifecycleEventHookExecutionId: hookExecutionId(this.deploymentId, context.hook),
      hook: context.hook,
      pipeline: request.pipeline,
      stage: request.stage,
      action: request.action,
      executionId: request.executionId,
      deploymentId: this.deploymentId,
      cluster: request.deployment.ecs?.cluster,
      service: request.deployment.ecs?.service,
      blueTaskSetArn: lambda ? undefined : context.blue?.id,
      greenTaskSetArn: lambda ? undefined : context.green?.id,
      testListenerArn: request.deployment.ecs?.testListenerArn,
      ...(lambda && {
        lambda: { functionName: lambda.functionName, alias: lambda.alias, currentVersion: context.blue?.id, targetVersion: context.green?.id },
      }),
    };
    const answer = await retryTransient(
      `Invoke ${fn}`,
      () =>
        this.lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(event)) })),
      this.retry,
    );
    const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : '';
    if (answer.FunctionError) return { succeeded: false, detail: `${fn} failed: ${errorMessage(text)}` };
    if (reportsFailure(text)) return { succeeded: false, detail: `${fn} answered ${text}` };
    return { succeeded: true, detail: `${fn} succeeded` };
  }
}

function errorMessage(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON
  }
  return text || 'no error message';
}

function reportsFailure(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return Boolean(parsed && typeof parsed === 'object' && 'status' in parsed && String(parsed.status).toLowerCase() === 'failed');
  } catch {
    return false;
  }
}
