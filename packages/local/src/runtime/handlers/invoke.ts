import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorName, type InvokeAction, SteplineError } from '@stepline/core';
import { runLogged } from '../../process/run-logged';
import { actionDirs, type ExecutionContext, needsLocalSetting, throwIfStopped } from '../context';

interface InvokePayload {
  Payload: { command?: string; userParameters?: string; variables?: Record<string, string> };
}

/**
 * An invoke action on one machine runs its command in a shell, in a copy of its first input artifact
 * (or the repository when it has none). `$USER_PARAMETERS` holds the user parameters; lines
 * `NAME=value` written to `$STEPLINE_OUTPUT` become the action's output variables.
 */
export function invokeHandler(ctx: ExecutionContext, action: InvokeAction, stage: string) {
  return async (input: unknown) => {
    const { Payload } = input as InvokePayload;
    if (Payload.command === undefined) {
      throw needsLocalSetting(action, `names only a Lambda function (${action.function})`, 'a command');
    }
    const { work, logFile } = await actionDirs(ctx, stage, action.name);
    let cwd = ctx.repo;
    const first = action.inputArtifacts[0];
    if (first) {
      cwd = join(work, 'src');
      await ctx.artifacts.copyTo(ctx.pipeline.name, ctx.executionId, first, cwd);
    }
    await mkdir(work, { recursive: true });
    const outputFile = join(work, 'output.env');
    throwIfStopped(ctx, action.name);
    const log = createWriteStream(logFile);
    const { exitCode, tail } = await runLogged('/bin/sh', ['-c', Payload.command ?? ''], {
      cwd,
      env: {
        ...process.env,
        ...Payload.variables,
        USER_PARAMETERS: Payload.userParameters ?? '',
        STEPLINE_OUTPUT: outputFile,
        STEPLINE_PIPELINE: ctx.pipeline.name,
        STEPLINE_EXECUTION_ID: ctx.executionId,
      },
      log,
      signal: ctx.signal,
      ...(ctx.output && { output: ctx.output }),
    });
    await new Promise((r) => log.end(r));
    if (ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `${action.name} was stopped`);
    if (exitCode !== 0) {
      throw new SteplineError(ErrorName.ActionFailed, `command exited with ${exitCode}${tail.length ? `: ${tail.join(' / ')}` : ''} — log: ${logFile}`);
    }
    const outputVariables: Record<string, string> = {};
    const written = await readFile(outputFile, 'utf8').catch(() => '');
    for (const line of written.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) outputVariables[line.slice(0, eq).trim()] = line.slice(eq + 1);
    }
    return { Payload: { outputVariables, logFile } };
  };
}
