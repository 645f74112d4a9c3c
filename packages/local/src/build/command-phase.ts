/**
 * One phase of commands (INSTALL, PRE_BUILD, BUILD, POST_BUILD): its `commands` in order until one
 * fails, then its `finally` block, which runs even after a failure. The phase fails when any command
 * of either block fails. Logged the way CodeBuild logs a phase.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.phases.finally
 */
import type { BuildspecPhase } from '@stepline/core';
import type { BuildLog } from './build-log';
import type { ShellSession } from './shell-session';

export interface PhaseFailure {
  command?: string;
  exitCode?: number;
  message: string;
}

export interface PhaseOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'STOPPED';
  failure?: PhaseFailure;
}

/** Runs a phase; `onFailure` is told at once, so a `finally` block sees CODEBUILD_BUILD_SUCCEEDING=0. */
export async function runCommandPhase(
  phase: BuildspecPhase | undefined,
  session: ShellSession,
  log: BuildLog,
  signal: AbortSignal | undefined,
  onFailure: () => void,
): Promise<PhaseOutcome> {
  let failure: PhaseFailure | undefined;
  const runBlock = async (commands: readonly string[]): Promise<'stopped' | undefined> => {
    for (const command of commands) {
      const outcome = await runCommand(command, session, log, signal);
      if (outcome === 'stopped') return 'stopped';
      if (outcome) {
        failure ??= outcome;
        onFailure();
        // The rest of a block is skipped after a failure, `finally` included: it is a list of commands
        // like any other (the reference says only that the block runs after a failed `commands`).
        return undefined;
      }
    }
    return undefined;
  };
  if ((await runBlock(phase?.commands ?? [])) === 'stopped') return { status: 'STOPPED' };
  if ((await runBlock(phase?.finally ?? [])) === 'stopped') return { status: 'STOPPED' };
  return failure ? { status: 'FAILED', failure } : { status: 'SUCCEEDED' };
}

/** Runs one command; resolves to its failure, 'stopped', or nothing when it succeeded. */
async function runCommand(
  command: string,
  session: ShellSession,
  log: BuildLog,
  signal: AbortSignal | undefined,
): Promise<PhaseFailure | 'stopped' | undefined> {
  log.line(`Running command ${command}`);
  const stdout = log.output();
  const stderr = log.output();
  const result = await session.run(command, { stdout: stdout.write, stderr: stderr.write }, signal);
  stdout.end();
  stderr.end();
  if (result.stopped) return 'stopped';
  if (result.exitCode === 0) return undefined;
  const reason = result.error ?? (result.exitCode !== null ? `exit status ${result.exitCode}` : `signal: ${result.signal ?? 'unknown'}`);
  log.line(`Command did not exit successfully ${command} ${reason}`);
  const failure: PhaseFailure = { command, message: `Error while executing command: ${summary(command)}. Reason: ${reason}` };
  if (result.exitCode !== null) failure.exitCode = result.exitCode;
  return failure;
}

/** The first line of a command, for one-line messages; block-scalar commands run to many lines. */
function summary(command: string): string {
  const first = command.trim().split('\n')[0] ?? '';
  const more = command.trim().includes('\n') ? ' …' : '';
  return first.length > 120 ? `${first.slice(0, 119)}…` : `${first}${more}`;
}
