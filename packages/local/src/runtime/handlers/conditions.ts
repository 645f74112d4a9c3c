import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import {
  type ConditionCheckPayload,
  codeBuildIdentifier,
  conditionEvaluation,
  ErrorName,
  evaluateCondition,
  type RuleEffects,
  SteplineError,
} from '@stepline/core';
import { runLogged } from '../../process/run-logged';
import { actionDirs, type ExecutionContext } from '../context';

interface ConditionTask {
  Payload: ConditionCheckPayload & { variables?: Record<string, string> };
}

/**
 * A stage condition's check on one machine: core's evaluation, with the rules' effects run here.
 * A LambdaInvoke rule runs its `command`, a Commands rule its commands in one shell session, and a
 * CloudWatchAlarm rule its `local.command` (exit 0: OK; anything else: ALARM). Each runs in the
 * repository with the pipeline variables in its environment, its output logged under
 * `.stepline/logs/<execution>/<stage>.<condition>.<rule>.log`; a Commands rule with input artifacts
 * runs in a copy of the first instead, the others beside it, as its CodeBuild build on AWS does. A
 * condition overridden by hand (override-stage-condition, recorded in the history for the evaluation
 * that waited) passes without running its rules.
 */
export function conditionsHandler(ctx: ExecutionContext) {
  return async (input: unknown) => {
    const { Payload } = input as ConditionTask;
    const run = async (rule: string, script: string, env: Record<string, string> = {}, inputArtifacts: readonly string[] = []) => {
      const { work, logFile } = await actionDirs(ctx, Payload.stage, `${Payload.condition}.${rule}`);
      const sources = await copyInputs(work, inputArtifacts);
      const log = createWriteStream(logFile);
      const { exitCode, tail } = await runLogged('/bin/sh', ['-c', script], {
        cwd: sources.cwd,
        env: { ...process.env, ...Payload.variables, STEPLINE_PIPELINE: ctx.pipeline.name, STEPLINE_EXECUTION_ID: ctx.executionId, ...sources.env, ...env },
        log,
        signal: ctx.signal,
        ...(ctx.output && { output: ctx.output }),
      });
      await new Promise((r) => log.end(r));
      if (ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `rule ${rule} was stopped`);
      return { exitCode, reason: `exited with ${exitCode}${exitCode !== 0 && tail.length ? `: ${tail.join(' / ')}` : ''} (log: ${logFile})` };
    };
    // CodeBuild's layout: the primary source in CODEBUILD_SRC_DIR, each other in CODEBUILD_SRC_DIR_<identifier>.
    const copyInputs = async (work: string, inputArtifacts: readonly string[]) => {
      const [primary, ...secondary] = inputArtifacts;
      if (primary === undefined) return { cwd: ctx.repo, env: {} };
      const env: Record<string, string> = { CODEBUILD_SRC_DIR: join(work, 'src') };
      await ctx.artifacts.copyTo(ctx.pipeline.name, ctx.executionId, primary, env.CODEBUILD_SRC_DIR as string);
      for (const name of secondary) {
        const dir = join(work, 'sources', name);
        await ctx.artifacts.copyTo(ctx.pipeline.name, ctx.executionId, name, dir);
        env[`CODEBUILD_SRC_DIR_${codeBuildIdentifier(name)}`] = dir;
      }
      return { cwd: env.CODEBUILD_SRC_DIR as string, env };
    };
    const needsCommand = (rule: string, what: string): never => {
      throw new SteplineError(ErrorName.DefinitionInvalid, `rule ${rule} names only ${what}; on one machine it needs a command`);
    };
    const effects: RuleEffects = {
      alarmState: async (rule) => {
        if (!rule.local) return needsCommand(rule.name, `the alarm ${rule.alarmName}`);
        return (await run(rule.name, rule.local.command)).exitCode === 0 ? 'OK' : 'ALARM';
      },
      invoke: async (rule) => {
        if (rule.command === undefined) return needsCommand(rule.name, `the function ${rule.functionName}`);
        const { exitCode, reason } = await run(rule.name, rule.command, { USER_PARAMETERS: rule.userParameters ?? '' });
        return { passed: exitCode === 0, reason: `${rule.command} ${reason}` };
      },
      commands: async (rule) => {
        const { exitCode, reason } = await run(rule.name, ['set -e', ...rule.commands].join('\n'), {}, rule.inputArtifacts);
        return { passed: exitCode === 0, reason: `commands ${reason}` };
      },
    };
    const override = ctx.store.conditionOverride({
      executionId: ctx.executionId,
      stage: Payload.stage,
      condition: Payload.condition,
      evaluation: conditionEvaluation(Payload),
    });
    const result = await evaluateCondition(Payload, effects, new Date(), override);
    ctx.reporter.condition(Payload.stage, Payload.condition, result);
    return { Payload: result };
  };
}
