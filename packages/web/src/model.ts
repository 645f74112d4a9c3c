/**
 * What the console pages show, whichever runtime it comes from: the local server fills these from
 * SQLite, `stepline dashboard --target aws` from Step Functions, S3 and CloudWatch Logs. Core types
 * only; every value is escaped when rendered.
 */
import type { ActionSpan, ApprovalOutcome, BuildPhaseRecord, ExecutionDetail, ExecutionSummary, PipelineState, TrafficSeries } from '@stepline/core';

export interface PipelineCard {
  name: string;
  location?: string;
  /** The latest execution's state (or the pipeline's stages when it never ran). */
  state: PipelineState;
  latest?: ExecutionSummary;
}

export interface PipelinesData {
  pipelines: PipelineCard[];
  recent: ExecutionSummary[];
}

export interface VariableDeclaration {
  name: string;
  default?: string;
  description?: string;
}

export interface PipelineData {
  name: string;
  location?: string;
  executionMode?: string;
  description?: string;
  state: PipelineState;
  latest?: ExecutionSummary;
  executions: ExecutionSummary[];
  /** How many executions there are in all (the list shows the newest). */
  executionCount?: number;
  variables: VariableDeclaration[];
}

export interface LogView {
  /** The tail of the log, secrets already masked. */
  text: string;
  /** Bytes of the log so far: where streaming goes on from. */
  size: number;
  /** Whether earlier lines were left out. */
  truncated: boolean;
}

export interface TestFailureView {
  name: string;
  suite?: string;
  message?: string;
}

export interface BuildView {
  stage: string;
  action: string;
  buildId?: string;
  /** CodeBuild's build status: IN_PROGRESS, SUCCEEDED, FAILED, STOPPED. */
  status?: string;
  startedAt?: string;
  endedAt?: string;
  phases: BuildPhaseRecord[];
  reports: Array<{ name: string; passed: number; failed: number; skipped: number; failures?: TestFailureView[] }>;
  logLocation?: string;
  log?: LogView;
}

export interface ArtifactView {
  name: string;
  location: string;
  fileCount?: number;
  /** The manifest's files, when it could be read. */
  files?: Array<{ path: string; sha256: string; size?: number }>;
}

export interface ApprovalView extends ApprovalOutcome {
  customData?: string;
  requestedAt?: string;
  expiresAt?: string;
  /** Only these e-mail domains may decide. */
  emailDomains?: string[];
}

export interface ExecutionData {
  detail: ExecutionDetail;
  timeline: ActionSpan[];
  traffic: TrafficSeries[];
  builds: BuildView[];
  approvals: ApprovalView[];
  artifacts: ArtifactView[];
  /** The stage a retry starts from, when the execution can be retried. */
  retryStage?: string;
}

/** A log's bytes from an offset, for streaming while a build runs. */
export interface LogChunk {
  text: string;
  size: number;
}

/** What the page may do; absent where the console only reads (an AWS installation viewed read-only). */
export interface ConsoleActions {
  start(pipeline: string, variables: Record<string, string>, who: string): Promise<{ executionId: string }>;
  stop(executionId: string, abandon: boolean, who: string): Promise<void>;
  retry(executionId: string, who: string): Promise<void>;
  decide(executionId: string, stage: string, approve: boolean, comment: string, who: string): Promise<void>;
  setTransition(pipeline: string, stage: string, enabled: boolean, reason: string, who: string): Promise<void>;
}

/** Where the console reads from. */
export interface ConsoleSource {
  /** Shown in the header: "this machine", "installation acme (eu-west-1)". */
  where: string;
  pipelines(): Promise<PipelinesData>;
  pipeline(name: string): Promise<PipelineData | undefined>;
  execution(executionId: string): Promise<ExecutionData | undefined>;
  /** The log of one build of an execution, from `from` bytes on. */
  log(executionId: string, stage: string, action: string, from: number): Promise<LogChunk | undefined>;
  /** Changes whenever anything the pages show may have changed; cheap, polled often. */
  changeToken?(): Promise<string>;
  actions?: ConsoleActions;
  /** Who decides from this console when the person gives no name. */
  defaultApprover?: string;
}

/** An action the page refused, with a message the person may read. */
export class ConsoleActionError extends Error {
  constructor(
    message: string,
    readonly status = 409,
  ) {
    super(message);
    this.name = 'ConsoleActionError';
  }
}
