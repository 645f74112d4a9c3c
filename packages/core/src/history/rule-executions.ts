/**
 * Execution history → rule executions, like `aws codepipeline list-rule-executions`. Each check Task of
 * a stage condition answers with every rule it evaluated (core's `evaluateCondition`), and both
 * runtimes keep that answer in their history (the local engine's event log, Step Functions'
 * TaskStateExited output): the records are read from there, in this one place, with no store of their own.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListRuleExecutions.html
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleExecutionDetail.html
 */

import { type ConditionKind, ConditionLabel, conditionCheckName, conditionRecheckName } from '../compiler/names';
import { CheckStatus, type ConditionCheckResult } from '../conditions/check';
import type { Rule } from '../model/conditions';
import type { Pipeline } from '../model/schema';
import { ExecutionStatus } from './execution-status';
import type { HistoryEvent } from './pipeline-state';

export const RuleExecutionStatus = { InProgress: 'InProgress', Abandoned: 'Abandoned', Succeeded: 'Succeeded', Failed: 'Failed' } as const;
export type RuleExecutionStatus = (typeof RuleExecutionStatus)[keyof typeof RuleExecutionStatus];

/** One evaluation of one rule (a wait and its re-checks count as one), as CodePipeline's RuleExecutionDetail. */
export interface RuleExecution {
  pipelineExecutionId: string;
  /** `<execution>/<stage>/<condition>/<rule>/<n>`: the n-th evaluation of that condition in the execution. */
  ruleExecutionId: string;
  stageName: string;
  /** stepline's addition: the condition that ran the rule. */
  condition: ConditionKind;
  ruleName: string;
  /** ISO 8601. */
  startTime: string;
  lastUpdateTime: string;
  status: RuleExecutionStatus;
  /** Who let the condition through by hand (override-stage-condition). */
  updatedBy?: string;
  input: { ruleTypeId: { category: 'Rule'; owner: 'AWS'; provider: Rule['provider']; version: '1' }; configuration: Record<string, string> };
  output?: { executionResult: { externalExecutionSummary: string; externalExecutionId?: string; errorDetails?: { code: string; message: string } } };
}

/** A check Task's answer, from the state's output (`$.check.result`), when it holds one. */
export function conditionCheckOutput(output: unknown): ConditionCheckResult | undefined {
  const result = (output as { check?: { result?: Partial<ConditionCheckResult> } } | undefined)?.check?.result;
  if (typeof result !== 'object' || result === null || typeof result.status !== 'string' || !Array.isArray(result.rules)) return undefined;
  return result as ConditionCheckResult;
}

export interface RuleExecutionsInput {
  /** The pipeline the execution ran (its rules' configuration). */
  pipeline: Pipeline;
  execution: { executionId: string; status: ExecutionStatus; events: readonly HistoryEvent[] };
}

const STATUS_OF = {
  [CheckStatus.Pass]: RuleExecutionStatus.Succeeded,
  [CheckStatus.NotMet]: RuleExecutionStatus.Failed,
  [CheckStatus.Wait]: RuleExecutionStatus.InProgress,
};

/** The rule executions of one execution, in the order they started. */
export function ruleExecutionsFrom(input: RuleExecutionsInput): RuleExecution[] {
  const { pipeline, execution } = input;
  // Check state name → the condition it checks, and whether it starts an evaluation or re-checks a waiting one.
  const checks = new Map<string, { stage: string; kind: ConditionKind; rules: readonly Rule[]; again: boolean }>();
  for (const stage of pipeline.stages) {
    for (const kind of Object.keys(ConditionLabel) as ConditionKind[]) {
      const rules = stage[kind]?.rules;
      if (!rules) continue;
      checks.set(conditionCheckName(stage.name, kind), { stage: stage.name, kind, rules, again: false });
      checks.set(conditionRecheckName(stage.name, kind), { stage: stage.name, kind, rules, again: true });
    }
  }
  const out: RuleExecution[] = [];
  const evaluations = new Map<string, number>();
  /** Per condition, the evaluation under way: its start and its rules' records. */
  const current = new Map<string, { start: string; n: number; records: Map<string, RuleExecution> }>();
  for (const event of execution.events) {
    const check = checks.get(event.state);
    if (!check) continue;
    const key = `${check.stage}\u0000${check.kind}`;
    if (event.type === 'entered') {
      if (!check.again || !current.has(key)) {
        const n = (evaluations.get(key) ?? 0) + 1;
        evaluations.set(key, n);
        current.set(key, { start: event.at, n, records: new Map() });
      }
      continue;
    }
    const evaluation = current.get(key);
    if (!evaluation) continue;
    const record = (rule: Rule): RuleExecution => {
      let r = evaluation.records.get(rule.name);
      if (!r) {
        r = {
          pipelineExecutionId: execution.executionId,
          ruleExecutionId: `${execution.executionId}/${check.stage}/${check.kind}/${rule.name}/${evaluation.n}`,
          stageName: check.stage,
          condition: check.kind,
          ruleName: rule.name,
          startTime: evaluation.start,
          lastUpdateTime: event.at,
          status: RuleExecutionStatus.InProgress,
          input: { ruleTypeId: { category: 'Rule', owner: 'AWS', provider: rule.provider, version: '1' }, configuration: configurationOf(rule) },
        };
        evaluation.records.set(rule.name, r);
        out.push(r);
      }
      r.lastUpdateTime = event.at;
      return r;
    };
    if (event.type === 'failed') {
      // The check itself could not run: every rule it was to evaluate failed with it.
      for (const rule of check.rules) {
        const r = record(rule);
        if (r.status !== RuleExecutionStatus.InProgress) continue;
        r.status = RuleExecutionStatus.Failed;
        const message = event.cause ?? '';
        r.output = { executionResult: { externalExecutionSummary: message, errorDetails: { code: event.error ?? 'Error', message } } };
      }
      continue;
    }
    const result = event.check;
    if (!result) continue;
    for (const outcome of result.rules) {
      const rule = check.rules.find((r) => r.name === outcome.rule);
      if (!rule) continue;
      const r = record(rule);
      r.status = STATUS_OF[outcome.status];
      // A Commands rule's CodeBuild build (AWS), kept from the check that started it.
      const externalExecutionId = result.watch?.builds?.[outcome.rule] ?? r.output?.executionResult.externalExecutionId;
      r.output = { executionResult: { externalExecutionSummary: outcome.reason, ...(externalExecutionId !== undefined && { externalExecutionId }) } };
      if (result.overridden) r.updatedBy = result.overridden.by;
    }
    if (result.status !== CheckStatus.Wait) current.delete(key);
  }
  if (execution.status !== ExecutionStatus.InProgress) {
    for (const r of out) if (r.status === RuleExecutionStatus.InProgress) r.status = RuleExecutionStatus.Abandoned;
  }
  return out;
}

/** The rule's configuration as CodePipeline shows it: its fields as text. */
function configurationOf(rule: Rule): Record<string, string> {
  const configuration: Record<string, string> = {};
  for (const [key, value] of Object.entries(rule)) {
    if (key === 'name' || key === 'provider' || value === undefined) continue;
    configuration[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return configuration;
}
