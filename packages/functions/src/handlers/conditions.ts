/**
 * The conditions function: target of every stage condition's check Task (`<Stage> · check … conditions`,
 * see core's compiler/conditions.ts). Core evaluates the rules; this function gives them their AWS
 * effects: a CloudWatchAlarm rule reads the alarm (DescribeAlarms), a LambdaInvoke rule invokes its
 * function (the rule passes unless the function fails), a Commands rule runs as a build of the
 * CodeBuild project the installation creates for it. A condition overridden by hand
 * (override-stage-condition) passes without running its rules: the CLI records the override in the
 * artifact bucket and the check reads it first. The `roll back` Task's request starts the stage's
 * rollback execution (../conditions/rollback-request.ts).
 */
import { CloudWatchClient as CloudWatch, type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { BatchGetBuildsCommand, type Build, CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import {
  COMMANDS_RULE_TIMEOUT_MINUTES,
  type ConditionCheckPayload,
  type ConditionCheckResult,
  type ConditionOverride,
  commandsBuildspec,
  conditionOverrideKey,
  EnvVar,
  ErrorName,
  evaluateCondition,
  type RuleEffects,
  ruleProjectName,
  SteplineError,
} from '@stepline/core';
import { handleRollbackRequest, type RollbackAnswer, type RollbackRequestDependencies } from '../conditions/rollback-request';
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

/** A check answers a check, a rollback request a rollback (the Task's payload says which). */
export interface ConditionsHandler {
  (event: ConditionCheckPayload & { variables?: Record<string, string> }): Promise<ConditionCheckResult>;
  (event: { request: 'rollback' } & Record<string, unknown>): Promise<RollbackAnswer>;
}

export function createConditionsHandler(deps: ConditionsDependencies): ConditionsHandler {
  const handle = async (event: unknown): Promise<ConditionCheckResult | RollbackAnswer> => {
    const payload = event as ConditionCheckPayload & { request?: string; variables?: Record<string, string> };
    if (payload.request === 'rollback') {
      if (!deps.rollback) throw new SteplineError(ErrorName.Configuration, 'this conditions function was made without what a rollback needs');
      return handleRollbackRequest(event, deps.rollback);
    }
    const override = await readJsonIfPresent<ConditionOverride>(
      deps.s3(),
      deps.bucket(),
      conditionOverrideKey(payload.pipeline, payload.executionId, payload.stage, payload.condition),
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
        const projectName = ruleProjectName(deps.projectPrefix(), payload.pipeline, payload.stage, payload.condition, rule.name);
        const environment = { ...payload.variables, STEPLINE_PIPELINE: payload.pipeline, STEPLINE_EXECUTION_ID: payload.executionId };
        const started = await deps.codebuild().send(
          new StartBuildCommand({
            projectName,
            buildspecOverride: commandsBuildspec({ commands: rule.commands }),
            timeoutInMinutesOverride: COMMANDS_RULE_TIMEOUT_MINUTES,
            environmentVariablesOverride: Object.entries(environment).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
          }),
        );
        const id = started.build?.id;
        if (id === undefined) throw new SteplineError(ErrorName.Transient, `CodeBuild started no build of ${projectName} for rule ${rule.name}`);
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
  };
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
