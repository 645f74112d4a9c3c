/**
 * What the CLI's verbs ask of a runtime. One implementation runs on this machine (SQLite history, the
 * local engine), one against an AWS installation (Step Functions, S3); each verb is written once,
 * against this interface, and `--target` picks the implementation.
 */
import type { ExecutionStatus, PipelineState } from '@stepline/core';

export interface PipelineSummary {
  name: string;
  /** Where it is defined: a file on this machine, a state machine ARN on AWS. */
  location: string;
  executionMode?: string;
  updated?: string;
}

export interface ExecutionSummary {
  executionId: string;
  pipeline: string;
  status: ExecutionStatus;
  startedAt: string;
  endedAt?: string;
  /** What started it: Webhook, StartPipelineExecution, RetryStageExecution. */
  trigger?: string;
  commitId?: string;
  branch?: string;
}

export interface BuildPhaseRecord {
  name: string;
  status: string;
  durationMs?: number;
}

export interface ApprovalRecord {
  stage: string;
  action: string;
  status: 'Pending' | 'Approved' | 'Rejected' | 'Expired';
  decidedBy?: string;
  comment?: string;
  decidedAt?: string;
}

export interface ExecutionDetail extends ExecutionSummary {
  error?: string;
  cause?: string;
  state: PipelineState;
  /** Build phases per action, `Stage.Action` → phases. */
  builds: Record<string, { buildId?: string; logLocation?: string; phases: BuildPhaseRecord[] }>;
  approvals: ApprovalRecord[];
  artifacts: Array<{ name: string; location: string; files?: number }>;
  variables: Record<string, string>;
}

export interface StartOptions {
  variables: Record<string, string>;
  /** Names the execution; the same id twice starts one execution. */
  clientRequestToken?: string;
}

export interface ApprovalDecision {
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
  /** Re-runs a failed execution from its failed stage (RedriveExecution on AWS). */
  retryStageExecution(executionId: string): Promise<{ executionId: string }>;
  disableStageTransition(pipeline: string, stage: string, reason: string): Promise<void>;
  enableStageTransition(pipeline: string, stage: string): Promise<void>;
  decideApproval(executionId: string, decision: ApprovalDecision): Promise<void>;
}
