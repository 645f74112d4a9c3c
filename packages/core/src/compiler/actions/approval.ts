import type { ApprovalAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { LAMBDA_TRANSIENT_ERRORS, Resource, retryTransient, STEPLINE_TRANSIENT_ERRORS, Timeout } from '../integrations';
import { actionResultPath } from '../references';
import { type JsonObject, task } from '../states';
import { actionIdentity, addState, catchAll, grantInvoke } from './common';

/**
 * A manual approval invokes the approval function with a task token and waits for SendTaskSuccess
 * (approved) or SendTaskFailure (`Stepline.ApprovalRejected`). The decision's output is
 * `{approvedBy, comment, decidedAt}`, whatever the runtime.
 */
export function compileApproval(ctx: ActionContext, action: ApprovalAction): void {
  const fn = ctx.options.functions.approval;
  grantInvoke(ctx, fn);
  const timeoutMinutes = action.timeoutMinutes ?? Timeout.approvalMinutes;
  const payload: JsonObject = {
    'taskToken.$': '$$.Task.Token',
    ...actionIdentity(ctx),
    'source.$': `${actionResultPath(ctx.sourceKey)}.variables`,
    timeoutSeconds: timeoutMinutes * 60,
  };
  if (action.customData !== undefined) ctx.refs.assign(payload, 'customData', action.customData);
  if (action.externalEntityLink !== undefined) ctx.refs.assign(payload, 'externalEntityLink', action.externalEntityLink);
  const topic = action.notificationArn ?? ctx.options.approvalTopicArn;
  if (topic !== undefined) payload.notificationArn = topic;
  if (action.approvers) payload.approvers = action.approvers as JsonObject;

  addState(
    ctx,
    ctx.name,
    task({
      resource: Resource.LambdaWaitForToken,
      parameters: { FunctionName: fn, Payload: payload },
      resultSelector: { variables: { 'ApprovedBy.$': '$.approvedBy', 'Comment.$': '$.comment' } },
      resultPath: actionResultPath(ctx.key),
      timeoutSeconds: timeoutMinutes * 60,
      retry: retryTransient([...LAMBDA_TRANSIENT_ERRORS, ...STEPLINE_TRANSIENT_ERRORS]),
      catch: catchAll(ctx.catchTo),
      next: ctx.next,
    }),
    { role: 'action', final: true },
  );
}
