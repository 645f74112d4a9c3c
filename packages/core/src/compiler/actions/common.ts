import { artifactPrefix } from '../../artifacts';
import type { ActionContext, StateInfo } from '../context';
import { Resource } from '../integrations';
import { actionResultPath, escapeLiteral } from '../references';
import { type CatchRule, type JsonObject, type RetryRule, type State, StatesError, task } from '../states';

/** Every error of an action goes to its failure state, with the error kept under `$.failure`. */
export const catchAll = (next: string): CatchRule[] => [{ ErrorEquals: [StatesError.All], ResultPath: '$.failure', Next: next }];

/** A function ARN from a name or ARN, in the pipeline's region and account. */
export function functionArn(nameOrArn: string, ctx: Pick<ActionContext, 'options'>): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  return `arn:aws:lambda:${ctx.options.region}:${ctx.options.accountId}:function:${nameOrArn}`;
}

/** Identifies the action to any function it invokes. */
export function actionIdentity(ctx: ActionContext): JsonObject {
  return {
    pipeline: ctx.pipeline.name,
    stage: ctx.position.stage,
    action: ctx.position.action.name,
    'executionId.$': '$$.Execution.Name',
  };
}

/** `States.Format` expression of an artifact's S3 location (`bucket/pipeline/<execution>/<artifact>/`). */
export function artifactLocationExpression(ctx: ActionContext, artifact: string): string {
  const [before, after] = artifactPrefix(ctx.pipeline.name, '\u0000', artifact).split('\u0000');
  return `States.Format('${escapeLiteral(`${ctx.options.artifactBucket}/${before}`)}{}${escapeLiteral(after ?? '')}', $$.Execution.Name)`;
}

/** Records a state and what it belongs to. */
export function addState(ctx: ActionContext, name: string, state: State, info: Omit<StateInfo, 'stage' | 'action' | 'kind'>): void {
  ctx.states[name] = state;
  ctx.stateMap[name] = { ...info, stage: ctx.position.stage, action: ctx.position.action.name, kind: ctx.position.action.kind };
}

export function grantInvoke(ctx: ActionContext, arn: string): void {
  ctx.iam.push({ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [arn] });
}

/**
 * The state of an action that is one Lambda invocation (invoke, s3deploy, a local command in place of
 * a deploy): the function's answer becomes the action's output, a failure goes to the stage's catch.
 */
export function addFunctionActionState(
  ctx: ActionContext,
  functionName: string,
  payload: JsonObject,
  options: { timeoutSeconds: number; retry?: RetryRule[] },
): void {
  addState(
    ctx,
    ctx.name,
    task({
      resource: Resource.LambdaInvoke,
      parameters: { FunctionName: functionName, Payload: payload },
      resultSelector: { 'output.$': '$.Payload' },
      resultPath: actionResultPath(ctx.key),
      timeoutSeconds: options.timeoutSeconds,
      ...(options.retry && { retry: options.retry }),
      catch: catchAll(ctx.catchTo),
      next: ctx.next,
    }),
    { role: 'action', final: true },
  );
}
