/**
 * What the CLI's verbs ask of a runtime. One implementation runs on this machine (SQLite history, the
 * local engine), one against an AWS installation (Step Functions, S3); each verb is written once,
 * against this interface, and `--target` picks the implementation.
 */
import type {
  ConditionOverride,
  ExecutionDetail,
  ExecutionSummary,
  PipelineState,
  PipelineSummary,
  RuleExecution,
  SourceRevisionOverride,
} from '@stepline/core';

export type { ApprovalOutcome as ApprovalRecord, BuildPhaseRecord, ExecutionDetail, ExecutionSummary, PipelineSummary } from '@stepline/core';

export interface StartOptions {
  variables: Record<string, string>;
  /** Revisions for source actions instead of their branch heads, as StartPipelineExecution's sourceRevisions. */
  sourceRevisions?: SourceRevisionOverride[];
  /** Names the execution; the same id twice starts one execution. */
  clientRequestToken?: string;
}

/** What `approve` and `reject` ask of a backend. */
export interface DecideApprovalOptions {
  decision: 'Approved' | 'Rejected';
  /** The stage whose approval is decided; needed only when several wait. */
  stage?: string;
  comment?: string;
  approver: string;
}

export interface PipelineBackend {
  listPipelines(): Promise<PipelineSummary[]>;
  listExecutions(pipeline?: string): Promise<ExecutionSummary[]>;
  getPipelineState(pipeline: string, executionId?: string): Promise<PipelineState>;
  getExecution(executionId: string): Promise<ExecutionDetail>;
  startExecution(pipeline: string, options: StartOptions): Promise<{ executionId: string }>;
  /** Stops an execution; `abandon` stops at once instead of letting running actions finish. */
  stopExecution(executionId: string, options: { abandon: boolean; reason?: string }): Promise<void>;
  /** Re-runs a failed execution from its failed stage: locally the same execution, on AWS a new one (`<execution>-r2`). */
  retryStageExecution(executionId: string): Promise<{ executionId: string }>;
  /**
   * Runs a stage again, alone, with the state of the newest execution that succeeded through it (or the
   * one named), as CodePipeline's RollbackStage. On AWS a new execution; on this machine the CLI runs it.
   */
  rollbackStage(pipeline: string, stage: string, options: { targetExecution?: string }): Promise<{ executionId: string; targetExecution: string }>;
  disableStageTransition(pipeline: string, stage: string, reason: string): Promise<void>;
  enableStageTransition(pipeline: string, stage: string): Promise<void>;
  decideApproval(executionId: string, decision: DecideApprovalOptions): Promise<void>;
  /** Each evaluation of a stage condition's rules, newest execution first (ListRuleExecutions). */
  listRuleExecutions(pipeline: string, filter: { pipelineExecutionId?: string }): Promise<RuleExecution[]>;
  /** Lets a condition that an execution waits on through by hand (OverrideStageCondition). */
  overrideStageCondition(pipeline: string, request: OverrideConditionOptions): Promise<ConditionOverride>;
}

/** What `override-stage-condition` asks of a backend. */
export interface OverrideConditionOptions {
  stage: string;
  executionId: string;
  /** BEFORE_ENTRY or ON_SUCCESS, as CodePipeline's conditionType. */
  conditionType: string;
  /** Who overrides, recorded in the check's reason. */
  by: string;
}
