import { createWriteStream } from 'node:fs';
import { type ConditionCheckPayload, ErrorName, evaluateCondition, type RuleEffects, SteplineError } from '@stepline/core';
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
 * `.stepline/logs/<execution>/<stage>.<condition>.<rule>.log`. A condition overridden by hand
 * (override-stage-condition, recorded in the history) passes without running its rules.
 */
export function conditionsHandler(ctx: ExecutionContext) {
  return async (input: unknown) => {
    const { Payload } = input as ConditionTask;
    const run = async (rule: string, script: string, env: Record<string, string> = {}) => {
      const { logFile } = await actionDirs(ctx, Payload.stage, `${Payload.condition}.${rule}`);
      const log = createWriteStream(logFile);
      const { exitCode, tail } = await runLogged('/bin/sh', ['-c', script], {
        cwd: ctx.repo,
        env: { ...process.env, ...Payload.variables, STEPLINE_PIPELINE: ctx.pipeline.name, STEPLINE_EXECUTION_ID: ctx.executionId, ...env },
        log,
        signal: ctx.signal,
        ...(ctx.output && { output: ctx.output }),
      });
      await new Promise((r) => log.end(r));
      if (ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `rule ${rule} was stopped`);
      return { exitCode, reason: `exited with ${exitCode}${exitCode !== 0 && tail.length ? `: ${tail.join(' / ')}` : ''} (log: ${logFile})` };
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
        const { exitCode, reason } = await run(rule.name, ['set -e', ...rule.commands].join('\n'));
        return { passed: exitCode === 0, reason: `commands ${reason}` };
      },
    };
    const override = ctx.store.conditionOverride(ctx.executionId, Payload.stage, Payload.condition);
    const result = await evaluateCondition(Payload, effects, new Date(), override);
    ctx.reporter.condition(Payload.stage, Payload.condition, result);
    return { Payload: result };
  };
}
