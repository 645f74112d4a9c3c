import { type CloudFormationAction, type InvokeAction, SteplineError } from '@stepline/core';
import type { ExecutionContext } from '../context';
import { invokeHandler } from './invoke';

/** Whether this process could call AWS with the user's own credentials (the SDK's usual sources). */
export function awsCredentialsPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_CONTAINER_CREDENTIALS_FULL_URI);
}

/**
 * A CloudFormation action on one machine: its `local.command` when it has one (compiled as a single
 * command Task); otherwise it would deploy to the user's AWS account, which needs credentials.
 */
export function cloudFormationHandler(ctx: ExecutionContext, action: CloudFormationAction, stage: string) {
  if (action.local !== undefined) {
    const asInvoke = { ...action, kind: 'invoke', command: action.local.command, outputVariables: undefined } as unknown as InvokeAction;
    return invokeHandler(ctx, asInvoke, stage);
  }
  return async (_input: unknown): Promise<never> => {
    const needs = awsCredentialsPresent()
      ? 'deploying to your AWS account from one machine is not built yet: give the action a local.command'
      : 'on one machine it needs AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID) or a local.command';
    throw new SteplineError('Stepline.ActionFailed', `action ${action.name} deploys the CloudFormation stack ${action.stackName}; ${needs}`);
  };
}
