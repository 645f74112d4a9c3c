/**
 * The local runtime's history, in SQLite under `.stepline/`: executions, their state-machine events
 * (from which stage and action statuses are computed, by core's `pipelineStateFrom`), builds with
 * their phases and log files, approvals, artifacts, and each pipeline's gate state. Several
 * processes share it (a `run`, a `serve`, an `approve` from another terminal), so every write is a
 * short transaction and readers poll.
 *
 * One facade over one module per concern (executions.ts, builds.ts, approvals.ts, artifacts.ts,
 * gates.ts, pipelines.ts, condition-overrides.ts), each owning its tables; callers see one store.
 */
import type Database from 'better-sqlite3';
import { APPROVALS_SCHEMA, ApprovalRecords } from './approvals';
import { ARTIFACTS_SCHEMA, ArtifactRecords } from './artifacts';
import { BUILDS_SCHEMA, BuildRecords } from './builds';
import { CONDITION_OVERRIDES_SCHEMA, ConditionOverrideRecords } from './condition-overrides';
import { openHistory } from './database';
import { EXECUTIONS_SCHEMA, ExecutionRecords } from './executions';
import { GATES_SCHEMA, GateRecords } from './gates';
import { PIPELINES_SCHEMA, PipelineRecords } from './pipelines';

export type { ApprovalRow, ApprovalStatus } from './approvals';
export type { BuildRow } from './builds';
export type { ExecutionRow } from './executions';

export class HistoryStore {
  readonly db: Database.Database;
  private readonly executionRecords: ExecutionRecords;
  private readonly buildRecords: BuildRecords;
  private readonly approvalRecords: ApprovalRecords;
  private readonly artifactRecords: ArtifactRecords;
  private readonly gateRecords: GateRecords;
  private readonly pipelineRecords: PipelineRecords;
  private readonly conditionOverrideRecords: ConditionOverrideRecords;

  constructor(readonly file: string) {
    this.db = openHistory(file, [
      EXECUTIONS_SCHEMA,
      BUILDS_SCHEMA,
      APPROVALS_SCHEMA,
      ARTIFACTS_SCHEMA,
      GATES_SCHEMA,
      PIPELINES_SCHEMA,
      CONDITION_OVERRIDES_SCHEMA,
    ]);
    this.executionRecords = new ExecutionRecords(this.db);
    this.buildRecords = new BuildRecords(this.db);
    this.approvalRecords = new ApprovalRecords(this.db);
    this.artifactRecords = new ArtifactRecords(this.db);
    this.gateRecords = new GateRecords(this.db);
    this.pipelineRecords = new PipelineRecords(this.db);
    this.conditionOverrideRecords = new ConditionOverrideRecords(this.db);
  }

  close(): void {
    this.db.close();
  }

  // Executions, their events and stage entries (executions.ts)
  readonly createExecution: ExecutionRecords['createExecution'] = (...args) => this.executionRecords.createExecution(...args);
  readonly getExecution: ExecutionRecords['getExecution'] = (...args) => this.executionRecords.getExecution(...args);
  readonly findByDelivery: ExecutionRecords['findByDelivery'] = (...args) => this.executionRecords.findByDelivery(...args);
  readonly listExecutions: ExecutionRecords['listExecutions'] = (...args) => this.executionRecords.listExecutions(...args);
  readonly activeExecutions: ExecutionRecords['activeExecutions'] = (...args) => this.executionRecords.activeExecutions(...args);
  readonly setExecutionStatus: ExecutionRecords['setExecutionStatus'] = (...args) => this.executionRecords.setExecutionStatus(...args);
  readonly restartExecution: ExecutionRecords['restartExecution'] = (...args) => this.executionRecords.restartExecution(...args);
  readonly setSource: ExecutionRecords['setSource'] = (...args) => this.executionRecords.setSource(...args);
  readonly setPid: ExecutionRecords['setPid'] = (...args) => this.executionRecords.setPid(...args);
  readonly requestStop: ExecutionRecords['requestStop'] = (...args) => this.executionRecords.requestStop(...args);
  readonly appendEvents: ExecutionRecords['appendEvents'] = (...args) => this.executionRecords.appendEvents(...args);
  readonly events: ExecutionRecords['events'] = (...args) => this.executionRecords.events(...args);
  readonly recordStageEntry: ExecutionRecords['recordStageEntry'] = (...args) => this.executionRecords.recordStageEntry(...args);
  readonly stageEntry: ExecutionRecords['stageEntry'] = (...args) => this.executionRecords.stageEntry(...args);

  // Stage conditions let through by hand (condition-overrides.ts)
  readonly overrideCondition: ConditionOverrideRecords['overrideCondition'] = (...args) => this.conditionOverrideRecords.overrideCondition(...args);
  readonly conditionOverride: ConditionOverrideRecords['conditionOverride'] = (...args) => this.conditionOverrideRecords.conditionOverride(...args);

  // Builds (builds.ts)
  readonly nextBuildNumber: BuildRecords['nextBuildNumber'] = (...args) => this.buildRecords.nextBuildNumber(...args);
  readonly saveBuild: BuildRecords['saveBuild'] = (...args) => this.buildRecords.saveBuild(...args);
  readonly builds: BuildRecords['builds'] = (...args) => this.buildRecords.builds(...args);

  // Approvals (approvals.ts)
  readonly createApproval: ApprovalRecords['createApproval'] = (...args) => this.approvalRecords.createApproval(...args);
  readonly getApproval: ApprovalRecords['getApproval'] = (...args) => this.approvalRecords.getApproval(...args);
  readonly approvals: ApprovalRecords['approvals'] = (...args) => this.approvalRecords.approvals(...args);
  readonly decideApproval: ApprovalRecords['decideApproval'] = (...args) => this.approvalRecords.decideApproval(...args);
  readonly expirePendingApprovals: ApprovalRecords['expirePendingApprovals'] = (...args) => this.approvalRecords.expirePendingApprovals(...args);

  // Artifacts (artifacts.ts)
  readonly recordArtifact: ArtifactRecords['recordArtifact'] = (...args) => this.artifactRecords.recordArtifact(...args);
  readonly artifacts: ArtifactRecords['artifacts'] = (...args) => this.artifactRecords.artifacts(...args);
  readonly forgetArtifacts: ArtifactRecords['forgetArtifacts'] = (...args) => this.artifactRecords.forgetArtifacts(...args);

  // Gates (gates.ts)
  readonly gateState: GateRecords['gateState'] = (...args) => this.gateRecords.gateState(...args);
  readonly applyGate: GateRecords['applyGate'] = (...args) => this.gateRecords.applyGate(...args);
  readonly takeGateEffect: GateRecords['takeGateEffect'] = (...args) => this.gateRecords.takeGateEffect(...args);

  // Pipelines seen by this machine (pipelines.ts)
  readonly rememberPipeline: PipelineRecords['rememberPipeline'] = (...args) => this.pipelineRecords.rememberPipeline(...args);
  readonly pipelines: PipelineRecords['pipelines'] = (...args) => this.pipelineRecords.pipelines(...args);
}
