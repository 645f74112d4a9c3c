import type { InvokeAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { LAMBDA_TRANSIENT_ERRORS, retryTransient, Timeout } from '../integrations';
import type { JsonObject } from '../states';
import { actionIdentity, addFunctionActionState, artifactLocationExpression, functionArn, grantInvoke } from './common';

/** Runs a command on one machine when no function is named; never reached on AWS. */
export const LOCAL_COMMAND_FUNCTION = 'stepline-local-command';

/**
 * An invoke action calls a Lambda function (AWS) or runs a command (one machine). The function's
 * answer is kept as the action's output; `outputVariables` in it become the namespace's variables.
 */
export function compileInvoke(ctx: ActionContext, action: InvokeAction): void {
  if (action.function === undefined && ctx.options.target === 'aws') {
    ctx.warnings.push({
      path: `${ctx.position.path}.function`,
      message: 'an invoke action needs a function to run on AWS (a command runs only on one machine)',
    });
  }
  const fn = functionArn(action.function ?? LOCAL_COMMAND_FUNCTION, ctx);
  grantInvoke(ctx, fn);
  const payload: JsonObject = {
    ...actionIdentity(ctx),
    inputArtifacts: action.inputArtifacts.map((name) => ({ name, 'location.$': artifactLocationExpression(ctx, name) })),
    'variables.$': '$.variables',
  };
  if (action.userParameters !== undefined) ctx.refs.assign(payload, 'userParameters', action.userParameters);
  if (action.command !== undefined) ctx.refs.assign(payload, 'command', action.command);

  addFunctionActionState(ctx, fn, payload, {
    timeoutSeconds: (action.timeoutMinutes ?? Timeout.invokeMinutes) * 60,
    retry: retryTransient(LAMBDA_TRANSIENT_ERRORS),
  });
}
