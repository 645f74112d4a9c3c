import { ApprovalRequestSchema } from '@stepline/core';
import type { ExecutionContext } from '../context';

/** A manual approval on one machine: waits for its decision (see LocalApprovals), as the task token would. */
export function approvalHandler(ctx: ExecutionContext) {
  return async (input: unknown) => {
    const { Payload } = input as { Payload: unknown };
    const request = ApprovalRequestSchema.parse(Payload);
    return ctx.approvals.wait(request, { ...ctx.approval, signal: ctx.signal });
  };
}
