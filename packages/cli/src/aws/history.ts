/**
 * Step Functions execution history → what the CLI shows. The pipeline state itself is computed by
 * core's `pipelineStateFrom` (one place for both runtimes), fed the history the functions package reads
 * and normalizes (`@stepline/functions/executions`); this module reads what else the history holds:
 * CodeBuild phases, approval decisions and task tokens, and the resolved variables.
 * @see https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html
 */
import type { HistoryEvent as SfnHistoryEvent } from '@aws-sdk/client-sfn';
import { buildKey, ErrorName, FixedState, type StateMap } from '@stepline/core';
import { eventTime as at, HistoryIndex, parseJson } from '@stepline/functions/executions';
import type { ApprovalRecord, BuildPhaseRecord, ExecutionDetail } from '../backend';

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * CodeBuild builds run by the execution, `Stage.Action` → build id, logs and phases; a batch's builds
 * (`startBuildBatch.sync` answers with `{BuildBatch}`) each as `Stage.Action/identifier`, from its build
 * groups: the build's id and status, and the builds it waited for.
 */
export function buildsFrom(events: readonly SfnHistoryEvent[], stateMap: StateMap): ExecutionDetail['builds'] {
  const index = new HistoryIndex(events);
  const builds: ExecutionDetail['builds'] = {};
  for (const e of events) {
    const body =
      e.taskSubmittedEventDetails?.resourceType === 'codebuild'
        ? e.taskSubmittedEventDetails.output
        : e.taskSucceededEventDetails?.resourceType === 'codebuild'
          ? e.taskSucceededEventDetails.output
          : e.taskFailedEventDetails?.resourceType === 'codebuild'
            ? e.taskFailedEventDetails.cause
            : undefined;
    if (body === undefined) continue;
    const state = index.stateOf(e);
    const info = state === undefined ? undefined : stateMap[state];
    if (info?.stage === undefined || info.action === undefined) continue;
    const parsed = record(parseJson(body));
    const batch = record(parsed?.BuildBatch) ?? (parsed?.BuildGroups !== undefined ? parsed : undefined);
    if (batch) {
      Object.assign(builds, batchBuilds(batch, info.stage, info.action));
      continue;
    }
    const build = record(parsed?.Build) ?? parsed;
    if (!build) continue;
    const phases: BuildPhaseRecord[] = (Array.isArray(build.Phases) ? build.Phases : []).flatMap((p: unknown) => {
      const phase = record(p);
      const name = text(phase?.PhaseType);
      if (!phase || name === undefined) return [];
      const seconds = typeof phase.DurationInSeconds === 'number' ? phase.DurationInSeconds : undefined;
      return [{ name, status: text(phase.PhaseStatus) ?? 'IN_PROGRESS', ...(seconds !== undefined && { durationMs: seconds * 1000 }) }];
    });
    const buildId = text(build.Id);
    const status = text(build.BuildStatus);
    const logs = record(build.Logs);
    const logLocation = text(logs?.DeepLink);
    const groupName = text(logs?.GroupName);
    const streamName = text(logs?.StreamName);
    builds[buildKey(info.stage, info.action)] = {
      ...(buildId !== undefined && { buildId }),
      ...(status !== undefined && { status }),
      ...(logLocation !== undefined && { logLocation }),
      ...(groupName !== undefined && streamName !== undefined && { cloudWatchLogs: { groupName, streamName } }),
      phases,
    };
  }
  return builds;
}

/** A batch's build groups: each build's identifier, dependencies and its current build's id and status. */
function batchBuilds(batch: Record<string, unknown>, stage: string, action: string): ExecutionDetail['builds'] {
  const builds: ExecutionDetail['builds'] = {};
  for (const item of Array.isArray(batch.BuildGroups) ? batch.BuildGroups : []) {
    const group = record(item);
    const identifier = text(group?.Identifier);
    if (!group || identifier === undefined) continue;
    const current = record(group.CurrentBuildSummary);
    const buildId = text(current?.Arn);
    const status = text(current?.BuildStatus);
    const dependsOn = (Array.isArray(group.DependsOn) ? group.DependsOn : []).flatMap((d: unknown) => (typeof d === 'string' ? [d] : []));
    builds[buildKey(stage, action, identifier)] = {
      ...(buildId !== undefined && { buildId }),
      ...(status !== undefined && { status }),
      batch: { identifier, dependsOn, ...(typeof group.IgnoreFailure === 'boolean' && { ignoreFailure: group.IgnoreFailure }) },
      phases: [],
    };
  }
  return builds;
}

export interface ApprovalTask extends ApprovalRecord {
  /** The task token of a pending approval, from the Task's scheduled parameters. */
  token?: string;
}

/** Approvals of the execution from its history: pending (with the token to answer), approved, rejected, expired. */
export function approvalsFrom(events: readonly SfnHistoryEvent[], stateMap: StateMap): ApprovalTask[] {
  const index = new HistoryIndex(events);
  const byState = new Map<string, ApprovalTask>();
  for (const e of events) {
    const state = index.stateOf(e);
    const info = state === undefined ? undefined : stateMap[state];
    if (state === undefined || info?.kind !== 'approval' || info.role !== 'action' || info.stage === undefined || info.action === undefined) continue;
    const base = { stage: info.stage, action: info.action };
    if (e.type === 'TaskScheduled') {
      const token = text(record(record(parseJson(e.taskScheduledEventDetails?.parameters))?.Payload)?.taskToken);
      byState.set(state, { ...base, status: 'Pending', ...(token !== undefined && { token }) });
    } else if (e.type === 'TaskSucceeded') {
      const output = record(parseJson(e.taskSucceededEventDetails?.output));
      const decidedBy = text(output?.approvedBy);
      const comment = text(output?.comment);
      byState.set(state, {
        ...base,
        status: 'Approved',
        ...(decidedBy !== undefined && { decidedBy }),
        ...(comment !== undefined && comment !== '' && { comment }),
        decidedAt: text(output?.decidedAt) ?? at(e),
      });
    } else if (e.type === 'TaskFailed' || e.type === 'TaskTimedOut') {
      const error = e.taskFailedEventDetails?.error ?? e.taskTimedOutEventDetails?.error;
      const cause = e.taskFailedEventDetails?.cause ?? e.taskTimedOutEventDetails?.cause;
      if (error === ErrorName.ApprovalRejected)
        byState.set(state, { ...base, status: 'Rejected', ...(cause !== undefined && { comment: cause }), decidedAt: at(e) });
      else if (e.type === 'TaskTimedOut' || error === 'States.Timeout' || error === ErrorName.ApprovalExpired)
        byState.set(state, { ...base, status: 'Expired', decidedAt: at(e) });
    }
  }
  return [...byState.values()];
}

/** The variables the execution resolved (defaults merged with the start's overrides). */
export function variablesFrom(events: readonly SfnHistoryEvent[]): Record<string, string> {
  for (const e of events) {
    if (e.stateExitedEventDetails?.name !== FixedState.ResolveVariables) continue;
    const variables = record(record(parseJson(e.stateExitedEventDetails.output))?.variables) ?? {};
    return Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  }
  return {};
}
