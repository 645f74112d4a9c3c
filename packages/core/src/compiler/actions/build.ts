import { DefinitionError } from '../../errors';
import type { BuildAction } from '../../model/schema';
import type { ActionContext } from '../context';
import type { IamStatement } from '../iam';
import { CODEBUILD_TRANSIENT_ERRORS, Resource, retryTransient, Timeout } from '../integrations';
import type { ConditionKind } from '../names';
import { actionResultPath } from '../references';
import { type JsonObject, task } from '../states';
import { addState, artifactLocationExpression, catchAll } from './common';

/**
 * What one CodeBuild build of an action is made of: a build or test action as written, or a commands
 * action with the buildspec made from its commands (see ./commands.ts).
 */
export type CodeBuildRun = Pick<
  BuildAction,
  | 'name'
  | 'project'
  | 'primarySource'
  | 'inputArtifacts'
  | 'outputArtifacts'
  | 'environmentVariables'
  | 'parameterStore'
  | 'secretsManager'
  | 'timeoutMinutes'
  | 'namespace'
  | 'outputVariables'
  | 'buildspec'
  | 'batchEnabled'
  | 'combineArtifacts'
>;

/** A project name `sst deploy` creates: its parts joined, in the characters and length CodeBuild accepts. */
const createdProjectName = (parts: readonly string[]) =>
  parts
    .join('-')
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 255);

/** The CodeBuild project an action uses: its own, or the one `sst deploy` creates for it. */
export function projectName(ctx: Pick<ActionContext, 'pipeline' | 'position' | 'options'>, action: Pick<CodeBuildRun, 'name' | 'project'>): string {
  if (action.project !== undefined) return action.project;
  return createdProjectName([ctx.options.projectPrefix, ctx.pipeline.name, ctx.position.stage, action.name]);
}

/** The project `sst deploy` creates for a stage condition's Commands rule, where the conditions function runs it. */
export const ruleProjectName = (projectPrefix: string, pipeline: string, stage: string, condition: ConditionKind, rule: string) =>
  createdProjectName([projectPrefix, pipeline, stage, condition, rule]);

/**
 * CodeBuild's `SourceIdentifier` and `ArtifactIdentifier` accept letters, digits and `_` only: an
 * artifact named `Extra-Out` is known to the build as `Extra_Out` (in `CODEBUILD_SRC_DIR_Extra_Out` and
 * as the key under `secondary-artifacts`).
 * @see https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html
 */
export const codeBuildIdentifier = (artifact: string) => artifact.replace(/[^A-Za-z0-9_]/g, '_');

/** The identifiers of an action's artifacts, refused when two artifacts would share one. */
function identifiers(ctx: ActionContext, field: 'inputArtifacts' | 'outputArtifacts', artifacts: readonly string[]): Map<string, string> {
  const byIdentifier = new Map<string, string>();
  for (const artifact of artifacts) {
    const id = codeBuildIdentifier(artifact);
    const other = byIdentifier.get(id);
    if (other !== undefined)
      throw new DefinitionError(
        [
          {
            path: `${ctx.position.path}.${field}`,
            message: `artifacts "${other}" and "${artifact}" are both "${id}" to CodeBuild, which accepts letters, digits and _ in identifiers: rename one`,
          },
        ],
        ctx.pipeline.name,
      );
    byIdentifier.set(id, artifact);
  }
  return new Map([...byIdentifier].map(([id, artifact]) => [artifact, id]));
}

/**
 * A build or test action runs a CodeBuild build and waits for it (`startBuild.sync`). The primary input,
 * when it is a source artifact and the project is one stepline creates, is the project's own repository
 * at the source's commit (`SourceVersion`); other inputs come from the artifact store (S3 folders). Pipeline variables and the action's environment variables
 * reach the build already resolved.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-codebuild.html
 */
export function compileBuild(ctx: ActionContext, action: CodeBuildRun): void {
  const project = projectName(ctx, action);
  const primary = action.primarySource ?? action.inputArtifacts[0] ?? '';
  const sourceOf = (artifact: string) => ctx.sourceProducers.get(artifact);

  const env: JsonObject[] = [];
  const addEnv = (name: string, value: string) => {
    const entry: JsonObject = { Name: name, Type: 'PLAINTEXT' };
    ctx.refs.assign(entry, 'Value', value);
    env.push(entry);
  };
  addEnv('STEPLINE_PIPELINE', ctx.pipeline.name);
  addEnv('STEPLINE_EXECUTION_ID', '#{codepipeline.PipelineExecutionId}');
  addEnv('STEPLINE_STAGE', ctx.position.stage);
  addEnv('STEPLINE_ACTION', action.name);
  for (const v of ctx.pipeline.variables) {
    if (!(v.name in action.environmentVariables)) addEnv(v.name, `#{variables.${v.name}}`);
  }
  for (const [name, value] of Object.entries(action.environmentVariables)) addEnv(name, value);
  // CodeBuild reads these when the build starts, with the project's role; the value here is the reference.
  for (const [name, value] of Object.entries(action.parameterStore ?? {})) env.push({ Name: name, Type: 'PARAMETER_STORE', Value: value });
  for (const [name, value] of Object.entries(action.secretsManager ?? {})) env.push({ Name: name, Type: 'SECRETS_MANAGER', Value: value });

  const parameters: JsonObject = { ProjectName: project };
  // A project stepline creates has the source's repository as its own source, and checks the commit out
  // itself. A project of the team's own (`project:`) may build another repository: it gets the stored
  // source artifact, as CodePipeline hands every project its input.
  const primarySource = action.project === undefined ? sourceOf(primary) : undefined;
  if (primarySource) {
    parameters['SourceVersion.$'] = `${actionResultPath(primarySource)}.variables.CommitId`;
  } else {
    parameters.SourceTypeOverride = 'S3';
    parameters['SourceLocationOverride.$'] = artifactLocationExpression(ctx, primary);
  }
  parameters.BuildspecOverride = action.buildspec;
  // StartBuildBatch names the per-build timeout differently; each build of a batch gets the action's.
  parameters[action.batchEnabled ? 'BuildTimeoutInMinutesOverride' : 'TimeoutInMinutesOverride'] = action.timeoutMinutes ?? Timeout.buildMinutes;
  parameters.EnvironmentVariablesOverride = env;

  const secondary = action.inputArtifacts.filter((a) => a !== primary);
  const sourceIds = identifiers(ctx, 'inputArtifacts', secondary);
  if (secondary.length > 0) {
    parameters.SecondarySourcesOverride = secondary.map((artifact) => ({
      Type: 'S3',
      SourceIdentifier: sourceIds.get(artifact) ?? artifact,
      'Location.$': artifactLocationExpression(ctx, artifact),
    }));
  }

  const artifactOverride = (artifact: string): JsonObject => ({
    Type: 'S3',
    Location: ctx.options.artifactBucket,
    'Path.$': `States.Format('${ctx.pipeline.name}/{}', $$.Execution.Name)`,
    Name: artifact,
    NamespaceType: 'NONE',
    Packaging: 'NONE',
  });
  const [firstOutput, ...moreOutputs] = action.outputArtifacts;
  parameters.ArtifactsOverride = firstOutput === undefined ? { Type: 'NO_ARTIFACTS' } : artifactOverride(firstOutput);
  if (moreOutputs.length > 0) {
    // In the buildspec, secondary-artifacts are keyed by these identifiers.
    const artifactIds = identifiers(ctx, 'outputArtifacts', moreOutputs);
    parameters.SecondaryArtifactsOverride = moreOutputs.map((a) => ({ ArtifactIdentifier: artifactIds.get(a) ?? a, ...artifactOverride(a) }));
  }

  const projectArn = `arn:aws:codebuild:${ctx.options.region}:${ctx.options.accountId}:project/${project}`;
  const call = action.batchEnabled ? batchCall(projectArn) : buildCall(ctx, action, projectArn);
  ctx.iam.push(call.statement);
  // The .sync integration watches the build (or the batch) through this managed EventBridge rule.
  ctx.iam.push({
    Effect: 'Allow',
    Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
    Resource: [`arn:aws:events:${ctx.options.region}:${ctx.options.accountId}:rule/${call.rule}`],
  });

  addState(
    ctx,
    ctx.name,
    task({
      resource: call.resource,
      parameters,
      resultSelector: call.resultSelector,
      resultPath: actionResultPath(ctx.key),
      timeoutSeconds: ((action.timeoutMinutes ?? Timeout.buildMinutes) + Timeout.buildQueueMinutes) * 60,
      retry: retryTransient(CODEBUILD_TRANSIENT_ERRORS),
      catch: catchAll(ctx.catchTo),
      next: ctx.next,
    }),
    { role: 'action', final: true },
  );
}

interface CodeBuildCall {
  resource: string;
  resultSelector: JsonObject;
  statement: IamStatement;
  /** The EventBridge rule Step Functions manages to learn that the build ended. */
  rule: string;
}

/** One build: `startBuild.sync`, answered with `{Build}` as BatchGetBuilds describes it. */
function buildCall(ctx: ActionContext, action: CodeBuildRun, projectArn: string): CodeBuildCall {
  // ExportedEnvironmentVariables is absent from a build that exports nothing, and reading a missing
  // path fails the Task on AWS: it is read only when the action declares its variables, or when some
  // action refers to them (and then the build must export them).
  const resultSelector: JsonObject = { 'buildId.$': '$.Build.Id', 'buildNumber.$': '$.Build.BuildNumber', 'status.$': '$.Build.BuildStatus' };
  const wanted = action.namespace !== undefined && ((action.outputVariables?.length ?? 0) > 0 || ctx.referencedNamespaces.has(action.namespace));
  if (wanted) resultSelector['exportedVariables.$'] = '$.Build.ExportedEnvironmentVariables';
  return {
    resource: Resource.CodeBuildSync,
    resultSelector,
    statement: { Effect: 'Allow', Action: ['codebuild:StartBuild', 'codebuild:StopBuild', 'codebuild:BatchGetBuilds'], Resource: [projectArn] },
    rule: 'StepFunctionsGetEventForCodeBuildStartBuildRule',
  };
}

/**
 * A batch (`batchEnabled`): `startBuildBatch.sync`; its build groups (one per build of the batch) are
 * kept for the execution's history. A batch exports no variables (validation refuses `outputVariables`).
 *
 * The output's shape is an assumption (docs/testing.md): Step Functions' CodeBuild page lists
 * StartBuildBatch as supporting `.sync` but shows no output, for it or for StartBuild. What is documented:
 * StartBuildBatch answers `{"buildBatch": BuildBatch}`, Step Functions spells service fields in
 * PascalCase, and its own example reads a `startBuild` result as `$.Build..Arn` (the API response's key,
 * `Build`). So `{BuildBatch}`, the batch as BatchGetBuildBatches describes it once it has finished.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-codebuild.html
 * @see https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuildBatch.html#API_StartBuildBatch_ResponseSyntax
 * @see https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BuildBatch.html
 */
function batchCall(projectArn: string): CodeBuildCall {
  return {
    resource: Resource.CodeBuildBatchSync,
    resultSelector: { 'buildBatchId.$': '$.BuildBatch.Id', 'status.$': '$.BuildBatch.BuildBatchStatus', 'builds.$': '$.BuildBatch.BuildGroups' },
    statement: { Effect: 'Allow', Action: ['codebuild:StartBuildBatch', 'codebuild:StopBuildBatch', 'codebuild:BatchGetBuildBatches'], Resource: [projectArn] },
    rule: 'StepFunctionsGetEventForCodeBuildStartBuildBatchRule',
  };
}
