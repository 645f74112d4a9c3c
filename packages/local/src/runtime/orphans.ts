/**
 * Executions whose runner is gone. A `stepline run` or `serve` killed with `kill -9` leaves its
 * executions InProgress in the history (its build processes die with it: process-groups.ts); the next
 * stepline command that opens the history marks them failed, frees their gates and expires their
 * approvals, so that `retry-stage-execution` can resume them.
 */
import { readFileSync } from 'node:fs';
import type { ExecutionRow, HistoryStore } from '../store/history-store';

/** The error an execution whose runner ended gets. */
export const RUNNER_ENDED = 'Stepline.ProcessEnded';

/**
 * Marks every InProgress or Stopping execution whose runner process no longer exists; returns them.
 * `runsHere` says which executions this very process runs (their pid is ours).
 */
export function markOrphans(store: HistoryStore, runsHere: (executionId: string) => boolean = () => false): ExecutionRow[] {
  const reaped: ExecutionRow[] = [];
  for (const e of store.activeExecutions()) {
    if (e.pid === undefined || runsHere(e.id) || steplineRunning(e.pid)) continue;
    const at = new Date().toISOString();
    store.setExecutionStatus(e.id, e.status === 'Stopping' ? 'Stopped' : 'Failed', {
      at,
      error: RUNNER_ENDED,
      cause: `runner ended unexpectedly: the process running it (pid ${e.pid}) ended before it did; retry-stage-execution ${e.id} resumes it`,
    });
    store.applyGate(e.pipeline, { type: 'finish', executionId: e.id });
    store.expirePendingApprovals(e.id, at);
    reaped.push(e);
  }
  return reaped;
}

/**
 * Whether a stepline process still runs under this pid. Pids are reused (in a container the next run
 * often gets the same one), so an alive pid counts only when it is a Node process that is not this one.
 */
function steplineRunning(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie has ended: its parent has not collected it yet.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return /node|stepline/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    // No /proc (macOS): trust the pid.
    return true;
  }
}
