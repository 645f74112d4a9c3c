/**
 * The conditions function: target of every stage condition's check Task (`<Stage> · check … conditions`,
 * see core's compiler/conditions.ts). Core evaluates the rules; this function gives them their AWS
 * effects: a CloudWatchAlarm rule reads the alarm (DescribeAlarms), a LambdaInvoke rule invokes its
 * function (the rule passes unless the function fails), a Commands rule runs as a build of the
 * CodeBuild project the installation creates for it, in its input artifacts, once per evaluation, and
 * is stopped once its outcome no longer matters. A condition overridden by hand
 * (override-stage-condition) passes without running its rules: the CLI records the override of the
 * evaluation that waits in the artifact bucket and the check reads it first. The `roll back` Task's
 * request starts the stage's rollback execution (../conditions/rollback-request.ts); an execution that
 * ended without success has its rule builds stopped (../conditions/stopped-execution.ts).
 */
import { CloudWatchClient as CloudWatch, type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  BatchGetBuildsCommand,
  type Build,
  CodeBuildClient,
  ListBuildsForProjectCommand,
  StartBuildCommand,
  StopBuildCommand,
} from '@aws-sdk/client-codebuild';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import {
  artifactPrefix,
  COMMANDS_RULE_TIMEOUT_MINUTES,
  type ConditionCheckPayload,
  type ConditionCheckResult,
  type ConditionOverride,
  codeBuildIdentifier,
  commandsBuildspec,
  conditionEvaluation,
  conditionOverrideKey,
  EnvVar,
  ErrorName,
  evaluateCondition,
  RULE_BUILD_TOKEN_VARIABLE,
  type Rule,
  type RuleEffects,
  ruleBuildToken,
  ruleProjectName,
  SteplineError,
} from '@stepline/core';
import { handleRollbackRequest, type RollbackAnswer, type RollbackRequestDependencies } from '../conditions/rollback-request';
import { type StoppedExecutionAnswer, stopRuleBuildsOf } from '../conditions/stopped-execution';
import { StatusChangeEventSchema } from '../gates/events';
import { lazy, requiredEnv } from '../runtime';
import { readJsonIfPresent } from '../s3-json';

export interface ConditionsDependencies {
  cloudwatch: () => CloudWatchClient;
  lambda: () => LambdaClient;
  codebuild: () => CodeBuildClient;
  s3: () => S3Client;
  /** The artifact bucket, where overrides are recorded. */
  bucket: () => string;
  /** The prefix of the projects the installation creates (a Commands rule's project is named from it). */
  projectPrefix: () => string;
  now?: () => Date;
  /** What a rollback request needs: Step Functions, S3 and the artifact bucket's name. */
  rollback?: RollbackRequestDependencies;
}

/** A Commands rule's build is looked at again this often while it runs. */
export const RULE_BUILD_POLL_SECONDS = 15;

/**
 * A check answers a check, a rollback request a rollback (the Task's payload says which), and an
 * execution that ended without success (EventBridge) has its rules' builds still running stopped.
 */
export interface ConditionsHandler {
  (event: ConditionCheckPayload & { variables?: Record<string, string> }): Promise<ConditionCheckResult>;
  (event: { request: 'rollback' } & Record<string, unknown>): Promise<RollbackAnswer>;
  (event: { source: 'aws.states'; detail: Record<string, unknown> } & Record<string, unknown>): Promise<StoppedExecutionAnswer>;
}

export function createConditionsHandler(deps: ConditionsDependencies): ConditionsHandler {
  const handle = async (event: unknown): Promise<ConditionCheckResult | RollbackAnswer | StoppedExecutionAnswer> => {
    const payload = event as ConditionCheckPayload & { request?: string; variables?: Record<string, string> };
    if (payload.request === 'rollback') {
      if (!deps.rollback) throw new SteplineError(ErrorName.Configuration, 'this conditions function was made without what a rollback needs');
      return handleRollbackRequest(event, deps.rollback);
    }
    const ended = StatusChangeEventSchema.safeParse(event);
    if (ended.success) {
      if (!deps.rollback) throw new SteplineError(ErrorName.Configuration, 'this conditions function was made without a Step Functions client');
      return stopRuleBuildsOf(ended.data.detail, {
        sfn: deps.rollback.sfn(),
        runningBuild: async (check, rule) => {
          const build = await findRuleBuild(deps.codebuild(), ruleProject(deps, check, rule), ruleBuildToken(check, rule));
          return build?.buildStatus === 'IN_PROGRESS' ? build.id : undefined;
        },
        stop: (id) => stopBuild(deps, id),
      });
    }
    const override = await readJsonIfPresent<ConditionOverride>(
      deps.s3(),
      deps.bucket(),
      conditionOverrideKey(payload.pipeline, payload.executionId, payload.stage, payload.condition, conditionEvaluation(payload)),
    );
    return evaluateCondition(payload, ruleEffects(deps, payload), deps.now?.() ?? new Date(), override);
  };
  return handle as ConditionsHandler;
}

function ruleEffects(deps: ConditionsDependencies, payload: ConditionCheckPayload & { variables?: Record<string, string> }): RuleEffects {
  return {
    alarmState: async (rule) => {
      const answer = await deps.cloudwatch().send(new DescribeAlarmsCommand({ AlarmNames: [rule.alarmName], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }));
      const alarm = [...(answer.MetricAlarms ?? []), ...(answer.CompositeAlarms ?? [])].find((a) => a.AlarmName === rule.alarmName);
      return alarm?.StateValue;
    },
    invoke: async (rule) => {
      if (rule.functionName === undefined) throw new SteplineError(ErrorName.DefinitionInvalid, `rule ${rule.name} names no function to invoke on AWS`);
      const answer = await deps.lambda().send(
        new InvokeCommand({
          FunctionName: rule.functionName,
          Payload: new TextEncoder().encode(JSON.stringify({ rule: rule.name, userParameters: rule.userParameters ?? '' })),
        }),
      );
      if (answer.FunctionError) {
        const detail = answer.Payload ? new TextDecoder().decode(answer.Payload) : answer.FunctionError;
        return { passed: false, reason: `${rule.functionName} failed: ${detail.slice(0, 500)}` };
      }
      return { passed: true, reason: `${rule.functionName} succeeded` };
    },
    // The first check starts the build and answers WAIT; the machine's Wait loop brings the next check
    // back here with the build's id in `watch`, so no function waits for a build.
    commands: async (rule, watch) => {
      const running = watch.builds?.[rule.name];
      if (running === undefined) {
        const id = await startRuleBuild(deps, payload, rule);
        watch.builds = { ...watch.builds, [rule.name]: id };
        return { running: true, reason: `commands running in CodeBuild build ${id}`, waitSeconds: RULE_BUILD_POLL_SECONDS };
      }
      const { builds } = await deps.codebuild().send(new BatchGetBuildsCommand({ ids: [running] }));
      const build = builds?.find((b) => b.id === running);
      if (!build) return { passed: false, reason: `CodeBuild build ${running} is gone` };
      if (build.buildStatus === 'IN_PROGRESS' || build.buildStatus === undefined) {
        return {
          running: true,
          reason: `commands running in CodeBuild build ${running} (${build.currentPhase ?? 'starting'})`,
          waitSeconds: RULE_BUILD_POLL_SECONDS,
        };
      }
      if (build.buildStatus === 'SUCCEEDED') return { passed: true, reason: `commands succeeded in CodeBuild build ${running}` };
      return { passed: false, reason: `commands ${build.buildStatus.toLowerCase()} in CodeBuild build ${running}: ${failedPhase(build)}` };
    },
    stopCommands: (_rule, buildId) => stopBuild(deps, buildId),
  };
}

type CommandsRule = Extract<Rule, { provider: 'Commands' }>;

/**
 * Starts a Commands rule's build once per evaluation: a check retried after its first attempt started
 * the build (a Lambda timeout, a Step Functions retry) finds that build among the project's latest by
 * the token it carries, and CodeBuild itself answers a StartBuild repeated within 5 minutes with the
 * same build. The build's source is the rule's first input artifact, from the artifact store (S3), as
 * a build action gets its own; the others are its secondary sources.
 */
async function startRuleBuild(
  deps: ConditionsDependencies,
  payload: ConditionCheckPayload & { variables?: Record<string, string> },
  rule: CommandsRule,
): Promise<string> {
  const projectName = ruleProject(deps, payload, rule.name);
  const token = ruleBuildToken(payload, rule.name);
  const earlier = (await findRuleBuild(deps.codebuild(), projectName, token))?.id;
  if (earlier !== undefined) return earlier;
  const environment = {
    ...payload.variables,
    STEPLINE_PIPELINE: payload.pipeline,
    STEPLINE_EXECUTION_ID: payload.executionId,
    [RULE_BUILD_TOKEN_VARIABLE]: token,
  };
  const location = (artifact: string) => `${deps.bucket()}/${artifactPrefix(payload.pipeline, payload.executionId, artifact)}`;
  const [primary, ...secondary] = rule.inputArtifacts ?? [];
  const started = await deps.codebuild().send(
    new StartBuildCommand({
      projectName,
      idempotencyToken: token,
      ...(primary !== undefined && { sourceTypeOverride: 'S3', sourceLocationOverride: location(primary) }),
      ...(secondary.length > 0 && {
        secondarySourcesOverride: secondary.map((artifact) => ({ type: 'S3', sourceIdentifier: codeBuildIdentifier(artifact), location: location(artifact) })),
      }),
      buildspecOverride: commandsBuildspec({ commands: rule.commands }),
      timeoutInMinutesOverride: COMMANDS_RULE_TIMEOUT_MINUTES,
      environmentVariablesOverride: Object.entries(environment).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
    }),
  );
  const id = started.build?.id;
  if (id === undefined) throw new SteplineError(ErrorName.Transient, `CodeBuild started no build of ${projectName} for rule ${rule.name}`);
  return id;
}

const ruleProject = (deps: Pick<ConditionsDependencies, 'projectPrefix'>, check: ConditionCheckPayload, rule: string) =>
  ruleProjectName(deps.projectPrefix(), check.pipeline, check.stage, check.condition, rule);

/**
 * The build of `projectName` that carries `token`, among its latest 100. Newest first is
 * ListBuildsForProject's default order; asking for it with `sortOrder` is an error once a project has
 * more than 100 builds, as a rule's project soon has.
 */
async function findRuleBuild(codebuild: CodeBuildClient, projectName: string, token: string): Promise<Build | undefined> {
  const { ids } = await codebuild.send(new ListBuildsForProjectCommand({ projectName }));
  if (!ids || ids.length === 0) return undefined;
  const { builds } = await codebuild.send(new BatchGetBuildsCommand({ ids }));
  return builds?.find((b) => b.environment?.environmentVariables?.some((v) => v.name === RULE_BUILD_TOKEN_VARIABLE && v.value === token));
}

/** StopBuild; a build that has already ended (CodeBuild answers InvalidInputException) is left as it is. */
async function stopBuild(deps: Pick<ConditionsDependencies, 'codebuild'>, id: string): Promise<void> {
  try {
    await deps.codebuild().send(new StopBuildCommand({ id }));
  } catch (error) {
    if (!(error instanceof Error && error.name === 'InvalidInputException')) throw error;
  }
}

/** Where a build failed: the first phase that did not succeed, with what CodeBuild says of it (the command and its exit status). */
function failedPhase(build: Build): string {
  const phase = build.phases?.find((p) => p.phaseStatus !== undefined && p.phaseStatus !== 'SUCCEEDED');
  if (!phase) return `ended ${build.buildStatus}`;
  const messages = (phase.contexts ?? []).flatMap((c) => [c.statusCode, c.message].filter((m) => m !== undefined && m !== '')).join(': ');
  return `phase ${phase.phaseType} ${phase.phaseStatus}${messages ? `: ${messages}` : ''}`;
}

export const handler = middy(
  createConditionsHandler({
    cloudwatch: lazy(() => new CloudWatch({})),
    lambda: lazy(() => new LambdaClient({})),
    codebuild: lazy(() => new CodeBuildClient({})),
    s3: lazy(() => new S3Client({})),
    bucket: lazy(() => requiredEnv(process.env, EnvVar.ArtifactBucket, 'the artifact bucket, where condition overrides are recorded')),
    projectPrefix: lazy(() => requiredEnv(process.env, EnvVar.ProjectPrefix, "the prefix of the installation's CodeBuild projects")),
    rollback: { sfn: lazy(() => new SFNClient({})), s3: lazy(() => new S3Client({})), env: process.env },
  }),
);
