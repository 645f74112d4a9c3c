/**
 * What a person watching `stepline run` sees: one line when an action starts and one when it ends
 * (stage, action, status, elapsed), a live line with the running actions' elapsed time on a TTY, and
 * a summary table at the end. It reads the same events that go to the history.
 */
import type { StateMap } from '@stepline/core';

export interface ProgressSink {
  /** A finished line. */
  line(text: string): void;
  /** The live status line (TTY only); empty clears it. */
  status?(text: string): void;
}

export interface ActionTiming {
  stage: string;
  action: string;
  kind: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Abandoned' | 'Waiting';
  startedAt?: number;
  endedAt?: number;
  note?: string;
}

const symbols: Record<ActionTiming['status'], string> = { InProgress: '▶', Succeeded: '✔', Failed: '✖', Abandoned: '■', Waiting: '…' };

export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

export class ProgressReporter {
  private readonly actions = new Map<string, ActionTiming>();
  /** The last "waits" line said for each waiting condition. */
  private readonly conditionWaits = new Map<string, string>();
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly stateMap: StateMap,
    private readonly sink: ProgressSink,
    private readonly now: () => number = Date.now,
  ) {
    if (sink.status) {
      const ticker = setInterval(() => this.refresh(), 1000);
      ticker.unref();
      this.ticker = ticker;
    }
  }

  private key = (stage: string, action: string) => `${stage}\u0000${action}`;

  private timing(stage: string, action: string, kind: string): ActionTiming {
    const k = this.key(stage, action);
    let t = this.actions.get(k);
    if (!t) {
      t = { stage, action, kind, status: 'InProgress' };
      this.actions.set(k, t);
    }
    return t;
  }

  /** A state was entered. */
  entered(state: string): void {
    const info = this.stateMap[state];
    if (!info?.stage) return;
    if (info.role === 'gate') {
      this.pendingGate = { stage: info.stage, since: this.now() };
      return;
    }
    if (info.role === 'skip') {
      this.emit(`↷ stage ${info.stage} skipped: its entry condition said SKIP`);
      return;
    }
    if (info.role === 'retry' && !info.action) {
      // The stage's automatic retry: its actions start over (those that succeeded may be passed over).
      for (const [k, t] of this.actions) if (t.stage === info.stage) this.actions.delete(k);
      this.emit(`↻ stage ${info.stage}: retrying automatically (attempt 2)`);
      return;
    }
    if (!info.action || (info.role !== 'action' && info.role !== 'step')) return;
    const t = this.timing(info.stage, info.action, info.kind ?? '');
    if (t.startedAt !== undefined) return;
    t.startedAt = this.now();
    this.emit(`${symbols.InProgress} ${info.stage} · ${info.action} (${info.kind}) started`);
  }

  private pendingGate: { stage: string; since: number } | undefined;

  /** A state was left successfully. */
  exited(state: string): void {
    const info = this.stateMap[state];
    const gate = this.pendingGate;
    if (gate && info?.role === 'gate' && gate.stage === info.stage) {
      const waited = this.now() - gate.since;
      if (waited > 1000) this.emit(`  entered stage ${info.stage} after waiting ${formatElapsed(waited)}`);
      this.pendingGate = undefined;
      return;
    }
    if (!info?.stage || !info.action || !info.final) return;
    const t = this.timing(info.stage, info.action, info.kind ?? '');
    t.status = 'Succeeded';
    t.endedAt = this.now();
    this.emit(`${symbols.Succeeded} ${info.stage} · ${info.action} succeeded in ${formatElapsed(t.endedAt - (t.startedAt ?? t.endedAt))}`);
  }

  /** An action failed; `detail` is shown under it (the error and the last lines of its log). */
  failed(stage: string, action: string | undefined, error: string, detail: string[] = []): void {
    if (action) {
      const t = this.timing(stage, action, this.kindOf(stage, action));
      if (t.status === 'Failed') return;
      t.status = 'Failed';
      t.endedAt = this.now();
      t.note = error;
      this.emit(`${symbols.Failed} ${stage} · ${action} failed after ${formatElapsed(t.endedAt - (t.startedAt ?? t.endedAt))}: ${error}`);
    } else this.emit(`${symbols.Failed} stage ${stage}: ${error}`);
    for (const d of detail) this.emit(`    ${d}`);
  }

  /** A gate holds the execution at a stage's entry. */
  held(stage: string, reason: string): void {
    this.emit(`${symbols.Waiting} ${stage}: waiting to enter (${reason})`);
  }

  /** A stage condition was checked. */
  condition(stage: string, condition: string, result: { status: string; rule?: string; reason: string }): void {
    const what = `${stage}: ${condition}`;
    // A condition re-checked while it waits says so once, until what it waits for changes.
    const waiting = result.status === 'WAIT' ? `${symbols.Waiting} ${what} waits: ${result.reason}` : undefined;
    const said = this.conditionWaits.get(what);
    if (waiting !== undefined) {
      this.conditionWaits.set(what, waiting);
      if (waiting !== said) this.emit(waiting);
      return;
    }
    this.conditionWaits.delete(what);
    if (result.status === 'NOT_MET') this.emit(`  ${what} not met: rule ${result.rule}: ${result.reason}`);
    else this.emit(`  ${what} passed (${result.reason})`);
  }

  note(text: string): void {
    this.emit(text);
  }

  /** Marks what is still running as abandoned (the execution stopped). */
  abandonRunning(): void {
    for (const t of this.actions.values()) {
      if (t.status === 'InProgress') {
        t.status = 'Abandoned';
        t.endedAt = this.now();
      }
    }
  }

  timings(): ActionTiming[] {
    return [...this.actions.values()];
  }

  close(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.sink.status?.('');
  }

  private kindOf(stage: string, action: string): string {
    return Object.values(this.stateMap).find((i) => i.stage === stage && i.action === action)?.kind ?? '';
  }

  private emit(text: string): void {
    this.sink.status?.('');
    this.sink.line(text);
    this.refresh();
  }

  private refresh(): void {
    if (!this.sink.status) return;
    const running = [...this.actions.values()].filter((t) => t.status === 'InProgress' && t.startedAt !== undefined);
    const now = this.now();
    const parts = running.map((t) => `${t.stage} · ${t.action} ${formatElapsed(now - (t.startedAt ?? now))}`);
    if (this.pendingGate && now - this.pendingGate.since > 1000)
      parts.push(`${this.pendingGate.stage}: waiting ${formatElapsed(now - this.pendingGate.since)}`);
    this.sink.status(parts.length > 0 ? `  running: ${parts.join(' | ')}` : '');
  }
}
