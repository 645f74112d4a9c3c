import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type CompiledPipeline, ErrorName, type Pipeline, SteplineError } from '@stepline/core';
import type { LocalApprovals, WaitOptions } from '../approvals/local-approvals';
import type { LocalArtifactStore } from '../artifacts/store';
import type { LocalCanary } from '../canary/index';
import type { HistoryStore } from '../store/history-store';
import type { ProgressReporter } from './progress';

/** Where the local runtime keeps its state: `.stepline/` of the project. */
export interface LocalPaths {
  /** The project directory (where the definition lives, and `.stepline/`). */
  project: string;
  /** `.stepline/` */
  state: string;
}

/** What every Task handler of one execution can reach. */
export interface ExecutionContext {
  pipeline: Pipeline;
  compiled: CompiledPipeline;
  executionId: string;
  /** The git repository the source actions read. */
  repo: string;
  paths: LocalPaths;
  store: HistoryStore;
  artifacts: LocalArtifactStore;
  approvals: LocalApprovals;
  approval: Omit<WaitOptions, 'signal'>;
  canary: LocalCanary;
  reporter: ProgressReporter;
  /** Aborted when the execution is stopped or ends: long handlers (builds, commands, waits) end with it. */
  signal: AbortSignal;
  /** Whether a stop was asked for; a wait at a stage's entry ends on it, stop or abandon alike. */
  stopRequested(): boolean;
  /** Streams build and command output when set. */
  output?: (text: string) => void;
}

/** A Task state's stage and action, from the state map. */
export function stateOwner(ctx: Pick<ExecutionContext, 'compiled' | 'pipeline'>, state: string) {
  const info = ctx.compiled.stateMap[state];
  const stage = ctx.pipeline.stages.find((s) => s.name === info?.stage);
  const action = stage?.actions.find((a) => a.name === info?.action);
  return { info, stage, action };
}

/** A name usable as one path segment. */
export const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

/**
 * Where an action works and logs: a fresh `.stepline/work/<execution>/<stage>.<action>/`, and
 * `.stepline/logs/<execution>/<stage>.<action>.log` (its directory made).
 */
export async function actionDirs(
  ctx: Pick<ExecutionContext, 'paths' | 'executionId'>,
  stage: string,
  action: string,
): Promise<{ work: string; logFile: string }> {
  const name = `${fileSafe(stage)}.${fileSafe(action)}`;
  const work = join(ctx.paths.state, 'work', ctx.executionId, name);
  const logs = join(ctx.paths.state, 'logs', ctx.executionId);
  await rm(work, { recursive: true, force: true });
  await mkdir(logs, { recursive: true });
  return { work, logFile: join(logs, `${name}.log`) };
}

/** A stop may come while an action's inputs are copied: then nothing starts. */
export function throwIfStopped(ctx: Pick<ExecutionContext, 'signal'>, what: string): void {
  if (ctx.signal.aborted) throw new SteplineError(ErrorName.Stopped, `${what} was stopped before it started`);
}

/** An action whose definition says what it does on AWS but not what stands in for that on one machine. */
export function needsLocalSetting(action: { name: string }, onAws: string, needs: string): SteplineError {
  return new SteplineError(ErrorName.ActionFailed, `action ${action.name} ${onAws}; on one machine it needs ${needs}`);
}
