/**
 * Stage gates: execution modes (PARALLEL, QUEUED, SUPERSEDED) and disabled stage transitions, as one
 * pure reducer over a pipeline's gate state. Every stage starts with a gate Task that waits on a task
 * token; the reducer says which waiting executions may proceed and which are superseded. The AWS gate
 * function keeps this state in S3 (conditional writes) and the local runtime in SQLite; both apply the
 * same events, so the two runtimes cannot disagree about who runs.
 *
 * Effects are kept in `pending` until the runtime confirms it delivered them, so a crash between saving
 * the state and answering a token loses nothing; delivering one twice is harmless (the second answer
 * to a task token is refused).
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html#concepts-how-it-works-executions
 */
import type { ExecutionMode } from '../model/schema';

export interface Waiter {
  executionId: string;
  token: string;
  /** ISO time the execution reached the gate. */
  since: string;
}

export interface DisabledTransition {
  reason: string;
  disabledAt: string;
  disabledBy?: string;
}

export interface GateState {
  /** Stages whose inbound transition is disabled. */
  disabled: Record<string, DisabledTransition>;
  /** Stage → the execution inside it (SUPERSEDED mode: one at a time). */
  occupant: Record<string, string>;
  /** Stage → executions waiting at its entry, oldest first. */
  waiting: Record<string, Waiter[]>;
  /** QUEUED mode: executions that have started running, at most one. */
  running: string[];
  /** Execution → the stage it last entered. */
  position: Record<string, string>;
  /** Executions that have finished: a repeated finish changes nothing; an enter means a redrive. */
  finished: string[];
  /** Answers owed to task tokens, kept until delivered. */
  pending: GateEffect[];
}

export type GateEffect =
  | { type: 'proceed'; executionId: string; stage: string; token: string }
  | { type: 'supersede'; executionId: string; stage: string; token: string; by: string };

export type GateEvent =
  | { type: 'enter'; executionId: string; stage: string; token: string; mode: ExecutionMode; firstStage: boolean; at: string }
  | { type: 'finish'; executionId: string }
  | { type: 'disable'; stage: string; reason: string; at: string; by?: string }
  | { type: 'enable'; stage: string }
  | { type: 'delivered'; effects: readonly GateEffect[] };

export const emptyGateState = (): GateState => ({ disabled: {}, occupant: {}, waiting: {}, running: [], position: {}, finished: [], pending: [] });

/** How many finished executions are remembered, so that state stays small. */
const FINISHED_KEPT = 200;

/** Applies one event; returns the new state, whose `pending` lists the answers still owed. */
export function applyGateEvent(previous: GateState, event: GateEvent, mode?: ExecutionMode): GateState {
  const state: GateState = structuredClone(previous);
  switch (event.type) {
    case 'enter':
      enter(state, event);
      break;
    case 'finish':
      finish(state, event.executionId);
      break;
    case 'disable':
      state.disabled[event.stage] = { reason: event.reason, disabledAt: event.at, ...(event.by !== undefined && { disabledBy: event.by }) };
      break;
    case 'enable':
      delete state.disabled[event.stage];
      admitWaiters(state, event.stage, mode ?? 'PARALLEL');
      break;
    case 'delivered': {
      const done = new Set(event.effects.map(effectKey));
      state.pending = state.pending.filter((e) => !done.has(effectKey(e)));
      break;
    }
  }
  return state;
}

const effectKey = (e: GateEffect) => `${e.type}:${e.executionId}:${e.stage}:${e.token}`;

function addEffect(state: GateState, effect: GateEffect): void {
  if (!state.pending.some((e) => effectKey(e) === effectKey(effect))) state.pending.push(effect);
}

function enter(state: GateState, e: Extract<GateEvent, { type: 'enter' }>): void {
  // A finished execution entering a stage again is being redriven (retry-stage-execution): it is live again.
  state.finished = state.finished.filter((id) => id !== e.executionId);
  const waiters = state.waiting[e.stage] ?? [];
  // A repeated enter (a retried invocation) answers again with what was decided the first time.
  if (state.position[e.executionId] === e.stage && !waiters.some((w) => w.executionId === e.executionId)) {
    addEffect(state, { type: 'proceed', executionId: e.executionId, stage: e.stage, token: e.token });
    return;
  }
  leaveStage(state, e.executionId, e.mode);
  const existing = waiters.find((w) => w.executionId === e.executionId);
  if (existing) existing.token = e.token;
  else waiters.push({ executionId: e.executionId, token: e.token, since: e.at });
  state.waiting[e.stage] = waiters;
  if (e.mode === 'SUPERSEDED') supersedeOlderWaiters(state, e.stage);
  admitWaiters(state, e.stage, e.mode);
}

/** In SUPERSEDED mode only the newest execution waits at a stage entry; older ones are replaced. */
function supersedeOlderWaiters(state: GateState, stage: string): void {
  const waiters = state.waiting[stage] ?? [];
  const newest = waiters.at(-1);
  if (!newest) return;
  for (const older of waiters.slice(0, -1)) {
    addEffect(state, { type: 'supersede', executionId: older.executionId, stage, token: older.token, by: newest.executionId });
    markFinished(state, older.executionId);
  }
  state.waiting[stage] = [newest];
}

/**
 * Lets waiting executions into a stage, as far as the transition and the execution mode allow. In
 * QUEUED mode one execution runs at a time: whichever stage an execution enters (the first, or the one
 * a retry resumes at), it needs the running slot unless it holds it already.
 */
function admitWaiters(state: GateState, stage: string, mode: ExecutionMode): void {
  if (state.disabled[stage]) return;
  const waiters = state.waiting[stage] ?? [];
  while (waiters.length > 0) {
    const next = waiters[0] as Waiter;
    if (mode === 'SUPERSEDED' && state.occupant[stage] !== undefined && state.occupant[stage] !== next.executionId) break;
    if (mode === 'QUEUED' && state.running.length > 0 && !state.running.includes(next.executionId)) break;
    waiters.shift();
    if (mode === 'SUPERSEDED') state.occupant[stage] = next.executionId;
    if (mode === 'QUEUED' && !state.running.includes(next.executionId)) state.running.push(next.executionId);
    state.position[next.executionId] = stage;
    addEffect(state, { type: 'proceed', executionId: next.executionId, stage, token: next.token });
  }
  if (waiters.length === 0) delete state.waiting[stage];
  else state.waiting[stage] = waiters;
}

/** An execution moving on (or ending) frees the stage it held, which may let the next one in. */
function leaveStage(state: GateState, executionId: string, mode: ExecutionMode): void {
  const stage = state.position[executionId];
  if (stage === undefined) return;
  delete state.position[executionId];
  if (state.occupant[stage] === executionId) {
    delete state.occupant[stage];
    admitWaiters(state, stage, mode);
  }
}

function finish(state: GateState, executionId: string): void {
  if (state.finished.includes(executionId)) return;
  const stage = state.position[executionId];
  const wasRunning = state.running.includes(executionId);
  const occupied = stage !== undefined && state.occupant[stage] === executionId;
  markFinished(state, executionId);
  for (const [s, waiters] of Object.entries(state.waiting)) {
    const left = waiters.filter((w) => w.executionId !== executionId);
    if (left.length > 0) state.waiting[s] = left;
    else delete state.waiting[s];
  }
  if (occupied && stage !== undefined) admitWaiters(state, stage, 'SUPERSEDED');
  if (wasRunning) {
    // The oldest waiting execution takes the slot, whichever entry it waits at.
    const oldest = Object.entries(state.waiting)
      .flatMap(([s, waiters]) => waiters.map((w) => ({ stage: s, since: w.since })))
      .sort((a, b) => a.since.localeCompare(b.since));
    for (const { stage: s } of oldest) admitWaiters(state, s, 'QUEUED');
  }
}

function markFinished(state: GateState, executionId: string): void {
  state.finished = [...state.finished.filter((id) => id !== executionId), executionId].slice(-FINISHED_KEPT);
  state.running = state.running.filter((id) => id !== executionId);
  for (const [s, id] of Object.entries(state.occupant)) if (id === executionId) delete state.occupant[s];
  delete state.position[executionId];
}

/** Which stage entries hold which executions, and why, for `get-pipeline-state`. */
export function heldExecutions(state: GateState): Array<{ stage: string; executionId: string; since: string; reason: string }> {
  return Object.entries(state.waiting).flatMap(([stage, waiters]) =>
    waiters.map((w) => ({
      stage,
      executionId: w.executionId,
      since: w.since,
      reason: state.disabled[stage]
        ? `transition disabled: ${state.disabled[stage]?.reason}`
        : state.occupant[stage]
          ? `waiting for ${state.occupant[stage]} to leave the stage`
          : 'queued behind a running execution',
    })),
  );
}
