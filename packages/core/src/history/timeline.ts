/**
 * Execution history → when things happened: each action's span (the console's timeline) and each
 * deploy's traffic over time (the canary chart). Both runtimes record the same state names, so both
 * consoles draw from the same events. Statuses come from `pipelineStateFrom`; this only adds time.
 */
import type { StateMap } from '../compiler/context';
import { deployStepName } from '../compiler/names';
import { deploymentPlan, type PlanStep } from '../deploy/plan';
import type { ActionKind, Pipeline } from '../model/schema';
import type { HistoryEvent } from './pipeline-state';

export interface ActionSpan {
  stage: string;
  action: string;
  kind: ActionKind;
  /** ISO 8601: when the action's main state was last entered (a retried stage starts again). */
  start: string;
  /** When it ended; absent while it runs. */
  end?: string;
  failed?: boolean;
}

/** Each action that started, in the order it started, with its latest attempt's start and end. */
export function actionTimeline(stateMap: StateMap, events: readonly HistoryEvent[]): ActionSpan[] {
  const spans = new Map<string, ActionSpan>();
  for (const event of events) {
    const info = stateMap[event.state];
    if (!info?.stage || info.action === undefined || info.kind === undefined) continue;
    const key = `${info.stage}\u0000${info.action}`;
    if (info.role === 'action' && event.type === 'entered') {
      spans.delete(key);
      spans.set(key, { stage: info.stage, action: info.action, kind: info.kind, start: event.at });
      continue;
    }
    const span = spans.get(key);
    if (!span || span.end !== undefined) continue;
    if (info.role === 'failure' && event.type === 'entered') Object.assign(span, { end: event.at, failed: true });
    else if (info.final && event.type === 'exited') span.end = event.at;
  }
  return [...spans.values()];
}

export interface TrafficPoint {
  at: string;
  /** Percent of production traffic on green. */
  weight: number;
}

export interface AlarmCheck {
  at: string;
  ok: boolean;
}

export interface TrafficSeries {
  stage: string;
  action: string;
  start: string;
  end?: string;
  /** Green's weight over time: a point each time it changed. */
  points: TrafficPoint[];
  /** Weights the strategy plans, in order (the steps still to come while it runs). */
  planned: number[];
  checks: AlarmCheck[];
  rollback?: { at: string; reason?: string };
  /** Nothing was live before: green took all traffic at once. */
  initial?: boolean;
}

export interface TrafficOptions {
  /** Deploys with nothing live before them: green takes all traffic at its first weight, as the canary does. */
  initial?: (stage: string, action: string) => boolean | undefined;
}

/**
 * Each deploy action's traffic, from the steps its Map walked: the n-th step entered is the n-th step
 * of the plan the compiler emitted (the Map runs one step at a time), a weight counts once its step
 * ended, an alarm check is marked when it ended (failed when the step failed), and entering the
 * rollback puts all traffic back on blue.
 */
export function trafficFrom(pipeline: Pipeline, stateMap: StateMap, events: readonly HistoryEvent[], options: TrafficOptions = {}): TrafficSeries[] {
  const series: TrafficSeries[] = [];
  for (const stage of pipeline.stages) {
    for (const action of stage.actions) {
      if (action.kind !== 'deploy') continue;
      const main = Object.entries(stateMap).find(([, i]) => i.role === 'action' && i.stage === stage.name && i.action === action.name)?.[0];
      if (main === undefined) continue;
      const plan = deploymentPlan(action, { checkIntervalSeconds: action.checkIntervalSeconds, testTraffic: action.ecs?.testListenerArn !== undefined });
      const initial = options.initial?.(stage.name, action.name) ?? false;
      const one = walk(main, plan, events, initial);
      if (one) series.push({ stage: stage.name, action: action.name, ...one, ...(initial && { initial }) });
    }
  }
  return series;
}

function walk(main: string, plan: readonly PlanStep[], events: readonly HistoryEvent[], initial: boolean): Omit<TrafficSeries, 'stage' | 'action'> | undefined {
  const next = deployStepName(main, 'next step');
  const run = deployStepName(main, 'run step');
  const rollback = deployStepName(main, 'rollback');
  const cleanup = deployStepName(main, 'cleanup');
  let out: Omit<TrafficSeries, 'stage' | 'action'> | undefined;
  let index = -1;
  let weight = 0;
  for (const event of events) {
    if (event.state === main && event.type === 'entered') {
      // A retried stage deploys again: draw the latest attempt.
      out = { start: event.at, points: [{ at: event.at, weight: 0 }], planned: [], checks: [] };
      index = -1;
      weight = 0;
      continue;
    }
    if (!out) continue;
    if (event.state === next && event.type === 'entered') index++;
    const step = plan[index];
    if (event.state === run && step && (event.type === 'exited' || event.type === 'failed')) {
      if (step.type === 'setWeight' && event.type === 'exited') {
        const w = initial ? 100 : step.weight;
        if (w !== weight) out.points.push({ at: event.at, weight: w });
        weight = w;
      }
      if (step.type === 'checkAlarms') out.checks.push({ at: event.at, ok: event.type === 'exited' });
    }
    if (event.state === rollback && event.type === 'entered') {
      out.rollback = { at: event.at };
      if (weight !== 0) out.points.push({ at: event.at, weight: 0 });
      weight = 0;
    }
    if (event.state === main && event.type === 'failed') out.end = event.at;
    if (event.state === rollback && (event.type === 'exited' || event.type === 'failed')) out.end = event.at;
    if (event.state === cleanup && event.type === 'exited') out.end = event.at;
  }
  if (out) {
    const shifts = plan.filter((s): s is Extract<PlanStep, { type: 'setWeight' }> => s.type === 'setWeight');
    out.planned = shifts.map((s) => (initial ? 100 : s.weight));
  }
  return out;
}

/** Attach a rollback's reason (the execution's cause) where history recorded one. */
export function withRollbackReason(series: TrafficSeries[], reason: string | undefined): TrafficSeries[] {
  if (!reason) return series;
  return series.map((s) => (s.rollback ? { ...s, rollback: { ...s.rollback, reason } } : s));
}
