import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  ErrorName,
  inputFileMissing,
  inputFilePath,
  LOCAL_STATE_MACHINE_ARN,
  readInputStateName,
  SfnExecutionStatus,
  type StateMachineDefinition,
  type StepFunctionsAction,
  SteplineError,
} from '@stepline/core';
import { execute, taskStateNames } from '../../engine/execute';
import type { ExecutionContext } from '../context';

interface StartInput {
  StateMachineArn: string;
  Name: string;
  Input: unknown;
}

const failed = (message: string, cause?: unknown) => new SteplineError(ErrorName.ActionFailed, message, cause === undefined ? undefined : { cause });

/** The local ASL file, parsed; Task states are refused: on one machine nothing stands behind their resources. */
async function loadDefinition(ctx: ExecutionContext, action: StepFunctionsAction): Promise<{ file: string; definition: StateMachineDefinition }> {
  const file = resolve(ctx.repo, action.local?.definition ?? '');
  let definition: StateMachineDefinition;
  try {
    definition = JSON.parse(await readFile(file, 'utf8')) as StateMachineDefinition;
  } catch (error) {
    throw failed(`action ${action.name}: cannot read the local state machine ${file}: ${(error as Error).message}`, error);
  }
  if (definition === null || typeof definition !== 'object' || typeof definition.States !== 'object' || typeof definition.StartAt !== 'string')
    throw failed(`action ${action.name}: ${file} is not an Amazon States Language definition (StartAt and States)`);
  const tasks = taskStateNames(definition);
  if (tasks.length > 0)
    throw failed(
      `action ${action.name}: ${file} has Task states (${tasks.join(', ')}); on one machine a state machine runs without AWS, so only Pass, Choice, Wait, Parallel, Map, Succeed and Fail`,
    );
  return { file, definition };
}

/**
 * A Step Functions action on one machine. The start Task runs the action's local ASL file in the same
 * local engine as the pipeline and answers as `startExecution.sync:2` does (ExecutionArn,
 * StateMachineArn, Output as JSON, Status); a failed or timed-out execution fails the action with its
 * error and cause. The read-input Task (inputType FilePath) reads the file from the input artifact,
 * checked against its manifest first.
 */
export function stepFunctionsHandler(ctx: ExecutionContext, action: StepFunctionsAction, state: string, actionState: string) {
  if (state === readInputStateName(actionState)) {
    return async (_input: unknown) => {
      const artifact = action.inputArtifacts[0] ?? '';
      const path = inputFilePath(action);
      await ctx.artifacts.verify(ctx.pipeline.name, ctx.executionId, artifact);
      if (!(await ctx.artifacts.holds(ctx.pipeline.name, ctx.executionId, artifact, path))) throw failed(inputFileMissing(action, path, artifact));
      return { Body: await readFile(join(ctx.artifacts.dir(ctx.pipeline.name, ctx.executionId, artifact), path), 'utf8') };
    };
  }
  return async (raw: unknown) => {
    const start = raw as StartInput;
    const { file, definition } = await loadDefinition(ctx, action);
    const input = typeof start.Input === 'string' ? parseJson(start.Input, action.name) : start.Input;
    const running = execute(definition, { input, executionName: start.Name, handlers: {} });
    const stop = () => running.abort();
    ctx.signal.addEventListener('abort', stop, { once: true });
    const outcome = await running.outcome.finally(() => ctx.signal.removeEventListener('abort', stop));
    if (ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `${action.name} was stopped`);
    const machine = basename(file).replace(/\.(asl\.)?json$/, '');
    const arn = action.stateMachineArn ?? LOCAL_STATE_MACHINE_ARN.replace(/stepline-local$/, machine);
    if (outcome.status !== SfnExecutionStatus.Succeeded)
      throw failed(
        `state machine ${file} (execution ${start.Name}) ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}${outcome.cause ? `: ${outcome.cause}` : ''}`,
      );
    return {
      ExecutionArn: `${arn.replace(':stateMachine:', ':execution:')}:${start.Name}`,
      StateMachineArn: arn,
      Status: outcome.status,
      Output: outcome.output ?? null,
    };
  };
}

function parseJson(text: string, action: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw failed(`action ${action}: the execution input is not JSON: ${(error as Error).message}`, error);
  }
}
