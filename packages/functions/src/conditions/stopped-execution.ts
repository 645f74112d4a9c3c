/**
 * An execution that ended without success (stopped, timed out, failed) while a condition's check had
 * started a Commands rule's build leaves that build running: the ASL runs nothing once an execution has
 * ended. EventBridge brings its status change here. The newest check Task in the execution's history
 * (newest first) says which evaluation it was, with which rules: each of their builds is found by the
 * token it carries (core's `ruleBuildToken`), whether the check answered WAIT or failed after starting
 * it, and stopped. An earlier check's builds had ended when the condition moved on.
 */
import { paginateGetExecutionHistory, type SFNClient } from '@aws-sdk/client-sfn';
import type { ConditionCheckPayload } from '@stepline/core';
import { parseJson } from '../executions/history';

/** Statuses after which nothing will look at a rule's build again. */
const ENDED_WITHOUT_SUCCESS = new Set(['ABORTED', 'TIMED_OUT', 'FAILED']);

export type StoppedExecutionAnswer = { stopped: string[] } | { ignored: string };

export interface StoppedExecutionDependencies {
  sfn: SFNClient;
  /** The build a check of `payload` started for `rule`, if it is still running. */
  runningBuild(payload: ConditionCheckPayload, rule: string): Promise<string | undefined>;
  stop(buildId: string): Promise<void>;
}

export async function stopRuleBuildsOf(detail: { executionArn: string; status: string }, deps: StoppedExecutionDependencies): Promise<StoppedExecutionAnswer> {
  if (!ENDED_WITHOUT_SUCCESS.has(detail.status)) return { ignored: `status ${detail.status} leaves no rule build running` };
  const check = await newestCheck(deps.sfn, detail.executionArn);
  const stopped: string[] = [];
  for (const rule of check?.rules ?? []) {
    if (rule.provider !== 'Commands') continue;
    const id = await deps.runningBuild(check as ConditionCheckPayload, rule.name);
    if (id === undefined) continue;
    await deps.stop(id);
    stopped.push(id);
  }
  return { stopped };
}

/** The payload of the newest check Task the execution scheduled (the machine resolved it: run, rules). */
async function newestCheck(sfn: SFNClient, executionArn: string): Promise<ConditionCheckPayload | undefined> {
  const pages = paginateGetExecutionHistory({ client: sfn }, { executionArn, reverseOrder: true, includeExecutionData: true });
  for await (const page of pages) {
    for (const event of page.events ?? []) {
      if (event.type !== 'TaskScheduled') continue;
      const payload = (parseJson(event.taskScheduledEventDetails?.parameters) as { Payload?: Partial<ConditionCheckPayload> } | undefined)?.Payload;
      if (typeof payload?.condition === 'string' && Array.isArray(payload.rules)) return payload as ConditionCheckPayload;
    }
  }
  return undefined;
}
