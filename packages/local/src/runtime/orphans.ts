/**
 * Executions whose runner is gone. A `stepline run` or `serve` killed with `kill -9` leaves its
 * executions InProgress in the history (its build processes die with it: process-groups.ts); the next
 * stepline command that opens the history marks them failed, frees their gates and expires their
 * approvals, so that `retry-stage-execution` can resume them.
 */
import { readFileSync } from 'node:fs';
import { TriggerType } from '@stepline/core';
import type { ExecutionRow, HistoryStore } from '../store/history-store';

/** The error an execution whose runner ended gets. */
export const RUNNER_ENDED = 'Stepline.ProcessEnded';

/** An execution marked because its runner ended. */
export interface Orphan {
  execution: ExecutionRow;
  /** The stage it was waiting to enter (QUEUED, or a disabled transition), if it was waiting. */
  waitingAt?: string;
}

/**
 * Marks every InProgress or Stopping execution whose runner process no longer exists; returns them.
 * `runsHere` says which executions this very process runs (their pid is ours).
 */
export function markOrphans(store: HistoryStore, runsHere: (executionId: string) => boolean = () => false): Orphan[] {
  const reaped: Orphan[] = [];
  const orphans = store.activeExecutions().filter((e) => e.pid !== undefined && !runsHere(e.id) && !steplineRunning(e.pid));
  // Who waited where, read before any finish below: finishing one lets the next waiter in.
  const waitingAt = new Map<string, string>();
  for (const pipeline of new Set(orphans.map((e) => e.pipeline))) {
    for (const [stage, waiters] of Object.entries(store.gateState(pipeline).waiting)) for (const w of waiters) waitingAt.set(w.executionId, stage);
  }
  for (const e of orphans) {
    const at = new Date().toISOString();
    const stage = waitingAt.get(e.id);
    const waiting = stage !== undefined ? ` while it waited to enter stage ${JSON.stringify(stage)}` : '';
    store.setExecutionStatus(e.id, e.status === 'Stopping' ? 'Stopped' : 'Failed', {
      at,
      error: RUNNER_ENDED,
      cause: `runner ended unexpectedly${waiting}: the process running it (pid ${e.pid}) ended before it did; retry-stage-execution ${e.id} resumes it`,
    });
    store.applyGate(e.pipeline, { type: 'finish', executionId: e.id });
    store.expirePendingApprovals(e.id, at);
    reaped.push({ execution: e, ...(stage !== undefined && { waitingAt: stage }) });
  }
  return reaped;
}

/**
 * Executions a server started from a webhook delivery whose server ended while they waited to enter
 * a stage (QUEUED, or a held transition): the next server owes them their run, from that stage. The
 * stage is read back from the cause markOrphans wrote, whichever stepline command marked them.
 */
export function queuedOrphans(store: HistoryStore, pipelines: ReadonlySet<string>): Array<{ execution: ExecutionRow; stage: string }> {
  const out: Array<{ execution: ExecutionRow; stage: string }> = [];
  for (const execution of store.listExecutions(undefined, 1000)) {
    if (execution.status !== 'Failed' || execution.error !== RUNNER_ENDED || execution.triggerType !== TriggerType.Webhook) continue;
    if (!pipelines.has(execution.pipeline)) continue;
    const stage = WAITING_CAUSE.exec(execution.cause ?? '')?.[1];
    if (stage !== undefined) out.push({ execution, stage: JSON.parse(stage) as string });
  }
  return out.reverse();
}

const WAITING_CAUSE = /^runner ended unexpectedly while it waited to enter stage ("(?:[^"\\]|\\.)*"):/;

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
