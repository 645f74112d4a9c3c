import { resolve } from 'node:path';
import { type CodeDeployAction, ErrorName, InPlaceStatus, SteplineError } from '@stepline/core';
import { deployInPlace } from '../../codedeploy/local-agent';
import { actionDirs, type ExecutionContext, fileSafe, needsLocalSetting, throwIfStopped } from '../context';

interface CodeDeployPayload {
  Payload: { operation: 'start' | 'advance'; spec: { applicationName: string; deploymentGroupName: string; appspec: string; autoRollback: boolean } };
}

/**
 * A codedeploy action on one machine: `local.root` is the one instance, and the start Task runs the
 * whole in-place deployment there (see ../../codedeploy/local-agent.ts), answering with a finished
 * deployment so the state machine goes straight to its end.
 */
export function codeDeployHandler(ctx: ExecutionContext, action: CodeDeployAction, stage: string) {
  return async (input: unknown) => {
    const { Payload } = input as CodeDeployPayload;
    if (action.local === undefined) throw needsLocalSetting(action, 'deploys to EC2 instances', 'local.root to deploy into');
    if (Payload.operation !== 'start') throw new SteplineError(ErrorName.ActionFailed, `${Payload.operation}: on one machine the deployment ends in its start`);
    const { logFile } = await actionDirs(ctx, stage, action.name);
    throwIfStopped(ctx, action.name);
    const deploymentId = `d-${fileSafe(ctx.executionId)}`;
    const result = await deployInPlace({
      root: resolve(action.local.root),
      applicationName: Payload.spec.applicationName,
      deploymentGroupName: Payload.spec.deploymentGroupName,
      deploymentId,
      appspec: Payload.spec.appspec,
      autoRollback: Payload.spec.autoRollback,
      download: (into) => ctx.artifacts.copyTo(ctx.pipeline.name, ctx.executionId, action.inputArtifacts[0] ?? '', into).then(() => undefined),
      logFile,
      signal: ctx.signal,
      ...(ctx.output && { output: ctx.output }),
    });
    return {
      Payload: { deploymentId, status: InPlaceStatus.Succeeded, succeeded: ['localhost'], failed: [], installed: result.installed, logFile, pollSeconds: 1 },
    };
  };
}
