/**
 * How an execution is described to people and scripts, whichever runtime ran it: the CLI's
 * `list-executions` and `get-execution`, and the local server's `/api/executions`.
 */
import type { ExecutionStatus } from './execution-status';
import type { PipelineState } from './pipeline-state';

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

export interface ApprovalOutcome {
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
  /** Build phases per action, `Stage.Action` → phases; each build of a batch as `Stage.Action/identifier`. */
  builds: Record<
    string,
    {
      buildId?: string;
      /** SUCCEEDED, FAILED, STOPPED, IN_PROGRESS… as CodeBuild says; a batch's build that never started has none. */
      status?: string;
      /** The build's identifier in its batch, and the builds it waited for. */
      batch?: { identifier: string; dependsOn: string[]; ignoreFailure?: boolean };
      logLocation?: string;
      /** Where CodeBuild writes the build's log on AWS. */
      cloudWatchLogs?: { groupName: string; streamName: string };
      phases: BuildPhaseRecord[];
      reports?: Array<{ name: string; passed: number; failed: number; skipped: number; failures?: Array<{ name: string; suite?: string; message?: string }> }>;
    }
  >;
  approvals: ApprovalOutcome[];
  artifacts: Array<{ name: string; location: string; files?: number }>;
  variables: Record<string, string>;
}

/** A build's name beside its stage: the action, and `Action/identifier` for a build of a batch. */
export const buildName = (action: string, identifier?: string) => (identifier === undefined ? action : `${action}/${identifier}`);

/** The key of a build in {@link ExecutionDetail.builds}: `Stage.Action`, and `Stage.Action/identifier` for a build of a batch. */
export const buildKey = (stage: string, action: string, identifier?: string) => `${stage}.${buildName(action, identifier)}`;
