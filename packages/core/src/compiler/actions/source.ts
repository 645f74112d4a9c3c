import type { SourceAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { FUNCTION_TRANSIENT_ERRORS, Resource, retryTransient, Timeout } from '../integrations';
import { actionResultPath } from '../references';
import { task } from '../states';
import { actionIdentity, addState, catchAll, grantInvoke } from './common';

/**
 * A source action resolves the commit to build (from the trigger, or the branch head for a manual
 * start) and records it as the action's variables (`CommitId`, `BranchName`, ...). On AWS, CodeBuild
 * checks that commit out itself (`SourceVersion`); on one machine the tree is exported into the
 * source artifact. Only builds whose primary input is the source artifact get the commit on AWS.
 */
export function compileSource(ctx: ActionContext, action: SourceAction): void {
  const fn = ctx.options.functions.source;
  grantInvoke(ctx, fn);
  const output = action.outputArtifacts[0] ?? '';
  addState(
    ctx,
    ctx.name,
    task({
      resource: Resource.LambdaInvoke,
      parameters: {
        FunctionName: fn,
        Payload: {
          ...actionIdentity(ctx),
          provider: action.provider,
          repository: action.repository,
          branch: action.branch,
          ...(action.connectionArn !== undefined && { connectionArn: action.connectionArn }),
          outputArtifact: output,
          artifactBucket: ctx.options.artifactBucket,
          'trigger.$': '$.input.source',
          // Revisions named at start (`--source-revision`); the action picks its own.
          'sourceRevisions.$': '$.input.sourceRevisions',
        },
      },
      resultSelector: { 'variables.$': '$.Payload.variables' },
      resultPath: actionResultPath(ctx.key),
      timeoutSeconds: (action.timeoutMinutes ?? Timeout.sourceMinutes) * 60,
      // The function throws Stepline.Transient when GitHub or S3 stayed throttled: worth another try.
      retry: retryTransient(FUNCTION_TRANSIENT_ERRORS),
      catch: catchAll(ctx.catchTo),
      next: ctx.next,
    }),
    { role: 'action', final: true },
  );
}
