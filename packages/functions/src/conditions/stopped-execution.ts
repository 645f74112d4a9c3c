/**
 * An execution that ended without success (stopped, timed out, failed) while a condition waited on a
 * Commands rule's build leaves that build running: the ASL runs nothing once an execution has ended.
 * EventBridge brings its status change here; the execution's last check answer (its history, newest
 * first) names the builds it was waiting on, and each is stopped.
 */
import { paginateGetExecutionHistory, type SFNClient } from '@aws-sdk/client-sfn';
import { CheckStatus, conditionCheckOutput } from '@stepline/core';
import { parseJson } from '../executions/history';

/** Statuses after which nothing will look at a rule's build again. */
const ENDED_WITHOUT_SUCCESS = new Set(['ABORTED', 'TIMED_OUT', 'FAILED']);

export type StoppedExecutionAnswer = { stopped: string[] } | { ignored: string };

export interface StoppedExecutionDependencies {
  sfn: SFNClient;
  stop(buildId: string): Promise<void>;
}

export async function stopRuleBuildsOf(detail: { executionArn: string; status: string }, deps: StoppedExecutionDependencies): Promise<StoppedExecutionAnswer> {
  if (!ENDED_WITHOUT_SUCCESS.has(detail.status)) return { ignored: `status ${detail.status} leaves no rule build running` };
  const pages = paginateGetExecutionHistory({ client: deps.sfn }, { executionArn: detail.executionArn, reverseOrder: true, includeExecutionData: true });
  for await (const page of pages) {
    for (const event of page.events ?? []) {
      if (event.type !== 'TaskStateExited') continue;
      const check = conditionCheckOutput(parseJson(event.stateExitedEventDetails?.output));
      if (!check) continue;
      // Only the newest check matters: an earlier one's builds had ended when the condition moved on.
      const builds = check.status === CheckStatus.Wait ? Object.values(check.watch?.builds ?? {}) : [];
      for (const id of builds) await deps.stop(id);
      return { stopped: builds };
    }
  }
  return { stopped: [] };
}
