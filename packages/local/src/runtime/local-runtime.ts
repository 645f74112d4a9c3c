/**
 * The embedded runtime: runs a pipeline's compiled state machine on this machine with
 * aws-local-stepfunctions, each Task bound to a local handler (git source, the buildspec runner,
 * approvals, commands, the local canary), history in SQLite. The state machine is the one AWS would
 * run; only the handlers differ.
 */
import { join, resolve } from 'node:path';
import {
  actionStateName,
  type CompiledPipeline,
  checkSourceRevisionOverrides,
  checkVariableOverrides,
  commandsBuild,
  compilePipeline,
  conditionCheckOutput,
  DefinitionError,
  ErrorName,
  type ExecutionInput,
  type ExecutionStatus,
  failureFromStateInput,
  type HistoryEvent,
  machineHash,
  newExecutionId,
  noRollbackTarget,
  type Pipeline,
  pipelineExecutionStatus,
  type ResumeInput,
  rollbackInput,
  rollbackRefusal,
  rollbackTarget,
  type SourceRevision,
  type SourceRevisionOverride,
  type StateMap,
  stageToRetry,
  TriggerType,
} from '@stepline/core';
import { type ApprovalMode, LocalApprovals, loadSigningKey, type WaitOptions } from '../approvals/local-approvals';
import { LocalArtifactStore } from '../artifacts/store';
import { createLocalCanary, type LocalCanary } from '../canary/index';
import { type EngineEvent, type ExecutionOutcome, execute, type RunningExecution, type TaskHandler, taskStateNames } from '../engine/execute';
import { HistoryStore } from '../store/history-store';
import type { ExecutionContext, LocalPaths } from './context';
import { approvalHandler } from './handlers/approval';
import { buildHandler, logTail } from './handlers/build';
import { buildBatchHandler } from './handlers/build-batch';
import { cloudFormationHandler } from './handlers/cloudformation';
import { codeDeployHandler } from './handlers/codedeploy';
import { conditionsHandler } from './handlers/conditions';
import { gateHandler } from './handlers/gate';
import { invokeHandler } from './handlers/invoke';
import { s3DeployHandler } from './handlers/s3deploy';
import { sourceHandler } from './handlers/source';
import { stepFunctionsHandler } from './handlers/stepfunctions';
import { markOrphans, RUNNER_ENDED } from './orphans';
import { type ActionTiming, ProgressReporter, type ProgressSink } from './progress';

export interface LocalRuntimeOptions {
  /** The project directory; state goes to `<project>/.stepline/`. */
  project: string;
  sink?: ProgressSink;
  /** Streams build and command output. */
  output?: (text: string) => void;
  approval?: { mode: ApprovalMode } & Omit<WaitOptions, 'signal' | 'mode'>;
  /** Wait state name → ms; shortens bakes (tests, demos). */
  waitTimeOverrides?: Record<string, number>;
  /**
   * Seconds a waiting stage condition waits before its next check, whatever the check answered: an
   * override or a changed alarm is seen sooner. @default what the check answers (at most 5 minutes, as on AWS)
   */
  conditionPollSeconds?: number;
  /** Keep the live deployed version running after an execution (serve). */
  keepLive?: boolean;
}

export interface StartRequest {
  pipeline: Pipeline;
  /** The definition file it was read from, shown with the execution (it runs and is shown from the pipeline recorded with it). */
  file: string;
  /** The git repository the source actions read. */
  repo: string;
  variables?: Record<string, string>;
  trigger?: ExecutionInput['trigger'];
  source?: SourceRevision;
  /** Revisions named for source actions (`--source-revision`), checked against the pipeline. */
  sourceRevisions?: SourceRevisionOverride[];
  executionId?: string;
}

export interface RunResult {
  executionId: string;
  status: ExecutionStatus;
  error?: string;
  cause?: string;
  timings: ActionTiming[];
  /** The action that failed and the last lines of its log. */
  failure?: { stage: string; action?: string; logTail: string[] };
  /** Set when the same delivery already started an execution: nothing new ran. */
  duplicateOf?: string;
  /** The execution a ROLLBACK condition started when this one failed, and how it ended. */
  rollback?: RunResult;
}

export interface RollbackRequest {
  pipeline: string;
  stage: string;
  /** The execution whose state the stage runs with. @default the last that succeeded through the stage */
  targetExecution?: string;
  /** The execution being rolled back (an automatic rollback), never a target. */
  failedExecution?: string;
  repo: string;
}

const quietSink: ProgressSink = { line: () => undefined };

/** The machine for a local run, or every reason it cannot run here (an invoke with only a function). */
export function compileForThisMachine(pipeline: Pipeline): CompiledPipeline {
  const compiled = compilePipeline(pipeline, { target: 'local' });
  if (compiled.warnings.length > 0) throw new DefinitionError(compiled.warnings, pipeline.name);
  return compiled;
}

export class LocalRuntime {
  readonly paths: LocalPaths;
  readonly store: HistoryStore;
  readonly artifacts: LocalArtifactStore;
  readonly approvals: LocalApprovals;
  readonly canary: LocalCanary;
  private readonly running = new Map<string, { engine: RunningExecution; controller: AbortController; stopping?: 'stop' | 'abandon' }>();
  /** Every execution this runtime drives, until its history is written. */
  private readonly driving = new Set<Promise<unknown>>();
  /** Failed execution → the rollback execution its ROLLBACK condition started. */
  private readonly rollbacks = new Map<string, Promise<RunResult>>();

  constructor(private readonly options: LocalRuntimeOptions) {
    const project = resolve(options.project);
    this.paths = { project, state: join(project, '.stepline') };
    this.store = new HistoryStore(join(this.paths.state, 'stepline.db'));
    this.artifacts = new LocalArtifactStore(join(this.paths.state, 'artifacts'));
    this.approvals = new LocalApprovals(this.store, loadSigningKey(join(this.paths.state, 'signing-key')));
    this.canary = createLocalCanary({
      artifactDir: (p, e, a) => this.artifacts.dir(p, e, a),
      copyArtifact: (p, e, a, dest) => this.artifacts.copyTo(p, e, a, dest),
      stateDir: join(this.paths.state, 'deployments'),
      log: (line) => (options.sink ?? quietSink).line(`    ${line}`),
    });
    this.reapOrphans();
  }

  /** Compiles for this machine, refusing up front what cannot run here (an invoke with only a function). */
  compile(pipeline: Pipeline): CompiledPipeline {
    return compileForThisMachine(pipeline);
  }

  /** Runs one execution to its end. */
  async run(request: StartRequest): Promise<RunResult> {
    const { pipeline } = request;
    const compiled = this.compile(pipeline);
    const variables = checkVariableOverrides(pipeline, request.variables ?? {});
    const sourceRevisions = checkSourceRevisionOverrides(pipeline, request.sourceRevisions ?? [], 'local');
    const executionId = request.executionId ?? newExecutionId(new Date(), Math.random);
    const input: ExecutionInput = {
      pipeline: pipeline.name,
      trigger: request.trigger ?? { type: 'StartPipelineExecution', actor: process.env.USER },
      source: request.source ?? {},
      variables,
      ...(sourceRevisions.length > 0 && { sourceRevisions }),
    };
    this.store.rememberPipeline(pipeline.name, request.file, new Date().toISOString());
    const created = this.store.createExecution({
      id: executionId,
      pipeline: pipeline.name,
      triggerType: input.trigger.type,
      deliveryId: input.trigger.deliveryId,
      startedAt: new Date().toISOString(),
      input,
      definitionFile: request.file,
      pid: process.pid,
      machine: { pipeline, stateMap: compiled.stateMap, machineHash: machineHash(compiled.definition) },
    });
    if (!created) {
      const existing = input.trigger.deliveryId ? this.store.findByDelivery(pipeline.name, input.trigger.deliveryId) : this.store.getExecution(executionId);
      return { executionId: existing?.id ?? executionId, status: existing?.status ?? 'InProgress', timings: [], duplicateOf: existing?.id ?? executionId };
    }
    const result = await this.track(this.drive(pipeline, compiled, executionId, input, request.repo));
    const rollback = this.rollbacks.get(executionId);
    if (rollback) result.rollback = await rollback;
    return result;
  }

  /**
   * Rolls a stage back (CodePipeline's RollbackStage): a new execution runs the stage alone, through
   * the machine's resume entry, with the state and the input artifacts of the target execution, the
   * last that succeeded through the stage unless one is named. It runs the pipeline the target ran.
   */
  async rollbackStage(request: RollbackRequest, trigger: 'ManualRollback' | 'AutomatedRollback' = TriggerType.ManualRollback): Promise<RunResult> {
    return (await this.startRollback(request, trigger)).done;
  }

  private async startRollback(
    request: RollbackRequest,
    trigger: 'ManualRollback' | 'AutomatedRollback',
  ): Promise<{ executionId: string; targetExecution: string; done: Promise<RunResult> }> {
    const refuse = (message: string): never => {
      throw new DefinitionError([{ path: 'stage', message }]);
    };
    const candidates = this.store
      .listExecutions(request.pipeline, 1000)
      .filter((e) => e.id !== request.failedExecution && e.machine !== undefined && (request.targetExecution === undefined || e.id === request.targetExecution))
      .map((e) => ({ executionId: e.id, pipeline: e.machine?.pipeline as Pipeline, stateMap: e.machine?.stateMap ?? {}, events: this.store.events(e.id) }));
    if (request.targetExecution !== undefined && candidates.length === 0)
      refuse(`no execution ${request.targetExecution} of pipeline ${request.pipeline} on this machine`);
    const target = rollbackTarget(candidates, request.stage);
    if (!target) refuse(noRollbackTarget(request.pipeline, request.stage, request.targetExecution));
    const { pipeline, executionId: targetExecution } = target as NonNullable<typeof target>;
    const compiled = this.compile(pipeline);
    const refusal = rollbackRefusal(pipeline, request.stage, compiled.stateMap);
    if (refusal) refuse(refusal);
    const entry = this.store.stageEntry(targetExecution, request.stage);
    const resume = rollbackInput(request.stage, targetExecution, entry?.data, request.failedExecution, { type: trigger, actor: process.env.USER });
    const { input } = resume.resume.state as { input: ExecutionInput };
    const executionId = newExecutionId(new Date(), Math.random);
    this.store.createExecution({
      id: executionId,
      pipeline: pipeline.name,
      triggerType: trigger,
      startedAt: new Date().toISOString(),
      input,
      pid: process.pid,
      machine: { pipeline, stateMap: compiled.stateMap, machineHash: machineHash(compiled.definition) },
    });
    // The stage reads the artifacts the target execution had when it entered the stage.
    const from = pipeline.stages.findIndex((s) => s.name === request.stage);
    for (const name of pipeline.stages.slice(0, from).flatMap((s) => s.actions.flatMap((a) => a.outputArtifacts))) {
      if (!this.artifacts.exists(pipeline.name, targetExecution, name)) continue;
      const sealed = await this.artifacts.carry(pipeline.name, targetExecution, executionId, name);
      this.store.recordArtifact(executionId, name, this.artifacts.dir(pipeline.name, executionId, name), sealed.files, new Date().toISOString());
    }
    (this.options.sink ?? quietSink).line(`rolling back stage ${request.stage} to execution ${targetExecution} in execution ${executionId}`);
    const done = this.track(this.drive(pipeline, compiled, executionId, input, request.repo, resume.resume));
    return { executionId, targetExecution, done };
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.driving.add(work);
    void work.finally(() => this.driving.delete(work)).catch(() => undefined);
    return work;
  }

  /**
   * Re-runs a failed or stopped execution from the entry of the stage that failed, with the state
   * data it had there (the compiled machine's resume entry; see compileResume). Artifacts of that
   * stage and later are written again. The execution runs the pipeline it ran before, whatever its
   * file says now; `recordedBefore` stands in only for an execution recorded before stepline kept it.
   */
  async retry(executionId: string, repo: string, recordedBefore?: Pipeline): Promise<RunResult> {
    const execution = this.store.getExecution(executionId);
    if (!execution) throw new DefinitionError([{ path: '', message: `no execution ${executionId} on this machine` }]);
    if (execution.status !== 'Failed' && execution.status !== 'Stopped') {
      throw new DefinitionError([{ path: '', message: `execution ${executionId} is ${execution.status}; only a failed or stopped execution can be retried` }]);
    }
    const pipeline = execution.machine?.pipeline ?? recordedBefore;
    if (!pipeline) throw new DefinitionError([{ path: '', message: `execution ${executionId} does not record the pipeline it ran` }]);
    const compiled = this.compile(pipeline);
    const events = this.store.events(executionId);
    const failedStage = stageToRetry(compiled.stateMap, events);
    const entry = failedStage ? this.store.stageEntry(executionId, failedStage) : undefined;
    const resume = failedStage && entry ? { stage: failedStage, state: entry.data } : undefined;
    // A runner killed after it recorded the execution but before its first state: nothing ran, so the
    // whole execution runs, from its own input.
    const neverStarted = !resume && events.length === 0 && execution.error === RUNNER_ENDED;
    if (!resume && !neverStarted) throw new DefinitionError([{ path: '', message: `execution ${executionId} has no failed stage to retry from` }]);
    const from = resume ? pipeline.stages.findIndex((s) => s.name === resume.stage) : 0;
    const rewritten = pipeline.stages.slice(from).flatMap((s) => s.actions.flatMap((a) => a.outputArtifacts));
    for (const name of rewritten) await this.artifacts.remove(pipeline.name, executionId, name);
    this.store.forgetArtifacts(executionId, rewritten);
    this.store.restartExecution(executionId, process.pid);
    (this.options.sink ?? quietSink).line(
      resume ? `retrying ${executionId} from stage ${resume.stage}` : `retrying ${executionId} from its start: its runner ended before it entered a stage`,
    );
    return this.track(this.drive(pipeline, compiled, executionId, execution.input, repo, resume));
  }

  /** Stops an execution this process runs: `abandon` at once, `stop` once running actions finish. */
  stop(executionId: string, mode: 'stop' | 'abandon'): boolean {
    const running = this.running.get(executionId);
    if (!running) return false;
    running.stopping = mode;
    if (mode === 'abandon') {
      this.abandon(executionId);
      // A deploy in flight goes back to blue now: this also ends a running hook or health wait.
      void this.canary.abortExecution(executionId).catch(() => undefined);
    }
    return true;
  }

  async close(): Promise<void> {
    for (const id of this.running.keys()) this.stop(id, 'abandon');
    // Stopped executions still write their end to the history: let them, then close it.
    await Promise.allSettled([...this.driving]);
    await this.canary.close({ keepLive: this.options.keepLive ?? false });
    this.store.close();
  }

  private abandon(executionId: string): void {
    const running = this.running.get(executionId);
    if (!running) return;
    running.controller.abort();
    running.engine.abort();
  }

  private async drive(
    pipeline: Pipeline,
    compiled: CompiledPipeline,
    executionId: string,
    input: ExecutionInput,
    repo: string,
    resume?: ResumeInput['resume'],
  ): Promise<RunResult> {
    const sink = this.options.sink ?? quietSink;
    const reporter = new ProgressReporter(compiled.stateMap, sink);
    const controller = new AbortController();
    const attempt = this.store.getExecution(executionId)?.attempt ?? 1;
    const ctx: ExecutionContext = {
      pipeline,
      compiled,
      executionId,
      repo: resolve(repo),
      paths: this.paths,
      store: this.store,
      artifacts: this.artifacts,
      approvals: this.approvals,
      approval: this.options.approval ?? { mode: 'auto' },
      canary: this.canary,
      reporter,
      signal: controller.signal,
      stopRequested: () => this.running.get(executionId)?.stopping !== undefined,
      ...(this.options.output && { output: this.options.output }),
    };
    let failure: RunResult['failure'];
    const caught = new Set<string>();
    const inFlight = new Set<Promise<unknown>>();
    const onEvent = (event: EngineEvent) => {
      const recorded = this.record(ctx, event, caught);
      if (!recorded) return;
      if (recorded.type === 'entered') reporter.entered(recorded.state);
      if (recorded.type === 'exited') reporter.exited(recorded.state);
      const info = compiled.stateMap[recorded.state];
      if (recorded.type === 'entered' && info?.role === 'failure' && info.stage && !failure) {
        failure = { stage: info.stage, ...(info.action !== undefined && { action: info.action }), logTail: [] };
        reporter.failed(info.stage, info.action, `${recorded.error ?? 'Error'}: ${recorded.cause ?? ''}`);
      }
      const stopping = this.running.get(executionId)?.stopping;
      if (stopping === 'stop' && recorded.type === 'entered' && (info?.role === 'gate' || info?.role === 'action')) this.abandon(executionId);
    };

    const engine = execute(compiled.definition, {
      // A retry enters the same machine with the state it had at the failed stage's entry.
      input: resume ? ({ resume } satisfies ResumeInput) : input,
      executionName: executionId,
      handlers: tracked(
        this.bindHandlers(ctx, () => attempt),
        inFlight,
      ),
      waitTimeOverrides: { ...this.conditionPolls(compiled.stateMap), ...this.options.waitTimeOverrides },
      onEvent,
    });
    this.running.set(executionId, { engine, controller });
    const watch = setInterval(() => {
      const requested = this.store.getExecution(executionId)?.stopRequested;
      if (requested) this.stop(executionId, requested);
    }, 300);
    let outcome: ExecutionOutcome;
    try {
      outcome = await engine.outcome;
    } finally {
      clearInterval(watch);
      controller.abort();
    }
    const running = this.running.get(executionId);
    this.running.delete(executionId);

    const status = pipelineExecutionStatus(outcome.status, {
      ...(outcome.error !== undefined && { error: outcome.error }),
      stopRequested: running?.stopping !== undefined,
    });
    // Parallel branches still running when another failed were abandoned by the engine; their
    // handlers ended with the execution's signal.
    if (status !== 'Succeeded') reporter.abandonRunning();
    if (status === 'Stopped') {
      // The end is written whatever the rollback does; a failed rollback is said, not swallowed.
      await this.canary.abortExecution(executionId).catch((error: unknown) => sink.line(`  rolling back the deploy failed: ${(error as Error).message}`));
    }
    // The engine forgets a Task the moment it is aborted, but its handler (a build's shell, a command)
    // is still ending on the execution's signal: the end is written once nothing of it runs.
    await settled(inFlight, HANDLER_SETTLE_MS);
    this.store.applyGate(pipeline.name, { type: 'finish', executionId });
    this.store.setExecutionStatus(executionId, status, {
      at: new Date().toISOString(),
      ...(status === 'Stopped' ? { error: ErrorName.Stopped, cause: `stopped (${running?.stopping ?? 'abandon'})` } : {}),
      ...(outcome.error !== undefined && status !== 'Stopped' && { error: outcome.error }),
      ...(outcome.cause !== undefined && status !== 'Stopped' && { cause: outcome.cause }),
    });
    this.store.setPid(executionId, undefined);
    if (failure) {
      const build = failure.action ? this.store.builds(executionId).find((b) => b.stage === failure?.stage && b.action === failure.action) : undefined;
      failure.logTail = build ? await logTail(build.logFile) : [];
    }
    reporter.close();
    const result: RunResult = { executionId, status, timings: reporter.timings(), ...(failure && { failure }) };
    if (status !== 'Succeeded') {
      const row = this.store.getExecution(executionId);
      if (row?.error) result.error = row.error;
      if (row?.cause) result.cause = row.cause;
    }
    return result;
  }

  /** The conditions' Wait states, shortened to `conditionPollSeconds` when it is set. */
  private conditionPolls(stateMap: StateMap): Record<string, number> {
    const seconds = this.options.conditionPollSeconds;
    if (seconds === undefined) return {};
    return Object.fromEntries(Object.entries(stateMap).flatMap(([name, info]) => (info.role === 'condition' && info.waiting ? [[name, seconds * 1000]] : [])));
  }

  /**
   * Turns an engine event into a history event and stores it; returns it when it is one. The engine
   * reports a Task whose error a Catch took as caught and then exited: that is a failure, not a success.
   */
  private record(ctx: ExecutionContext, event: EngineEvent, caught: Set<string>): HistoryEvent | undefined {
    if (event.type !== 'StateEntered' && event.type !== 'StateExited' && event.type !== 'StateFailed' && event.type !== 'StateCaught') return undefined;
    const info = ctx.compiled.stateMap[event.state.name];
    if (!info) return undefined;
    if (event.type === 'StateCaught') caught.add(event.state.name);
    if (event.type === 'StateExited' && caught.delete(event.state.name)) return undefined;
    const at = new Date(event.timestamp).toISOString();
    const history: HistoryEvent = {
      type: event.type === 'StateEntered' ? 'entered' : event.type === 'StateExited' ? 'exited' : 'failed',
      state: event.state.name,
      at,
    };
    if (event.type === 'StateFailed') {
      history.error = event.Error;
      history.cause = typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause);
    }
    if (event.type === 'StateExited' && info.role === 'condition' && event.state.type === 'Task') {
      const check = conditionCheckOutput(event.state.output);
      if (check) history.check = check;
    }
    if (event.type === 'StateEntered' && info.role === 'failure') {
      Object.assign(history, failureFromStateInput(event.state.input));
    }
    if (event.type === 'StateEntered' && info.role === 'gate' && info.stage)
      ctx.store.recordStageEntry(ctx.executionId, info.stage, event.state.name, event.state.input);
    ctx.store.appendEvents(ctx.executionId, [history]);
    return history;
  }

  private bindHandlers(ctx: ExecutionContext, attempt: () => number): Record<string, TaskHandler> {
    const handlers: Record<string, TaskHandler> = {};
    for (const state of taskStateNames(ctx.compiled.definition)) {
      const info = ctx.compiled.stateMap[state];
      const stage = ctx.pipeline.stages.find((s) => s.name === info?.stage);
      const action = stage?.actions.find((a) => a.name === info?.action);
      if (info?.role === 'gate') {
        handlers[state] = gateHandler(ctx, attempt);
        continue;
      }
      if (info?.role === 'condition') {
        handlers[state] = conditionsHandler(ctx);
        continue;
      }
      if (info?.role === 'rollback') {
        // A ROLLBACK condition: start the rollback execution; this one then fails, naming it.
        handlers[state] = async () => {
          const started = await this.startRollback(
            { pipeline: ctx.pipeline.name, stage: info.stage ?? '', failedExecution: ctx.executionId, repo: ctx.repo },
            TriggerType.AutomatedRollback,
          );
          this.rollbacks.set(ctx.executionId, started.done);
          return { Payload: { rollbackExecution: started.executionId, targetExecution: started.targetExecution } };
        };
        continue;
      }
      if (!action || !stage) throw new Error(`state ${state} belongs to no action`);
      switch (action.kind) {
        case 'source':
          handlers[state] = sourceHandler(ctx, action);
          break;
        case 'build':
        case 'test':
          handlers[state] = action.batchEnabled ? buildBatchHandler(ctx, action, stage.name) : buildHandler(ctx, action, stage.name);
          break;
        case 'approval':
          handlers[state] = approvalHandler(ctx);
          break;
        case 'invoke':
          handlers[state] = invokeHandler(ctx, action, stage.name);
          break;
        case 'deploy':
          handlers[state] = (input) => ctx.canary.handle(input);
          break;
        case 'codedeploy':
          handlers[state] = codeDeployHandler(ctx, action, stage.name);
          break;
        case 's3deploy':
          handlers[state] = s3DeployHandler(ctx, action, stage.name);
          break;
        case 'cloudformation':
          handlers[state] = cloudFormationHandler(ctx, action, stage.name, state);
          break;
        case 'stepfunctions':
          handlers[state] = stepFunctionsHandler(ctx, action, state, actionStateName(stage.name, action.name));
          break;
        case 'commands':
          // The same runner as a build: the compiled Task carries the buildspec made from the commands.
          handlers[state] = buildHandler(ctx, commandsBuild(action), stage.name);
          break;
      }
    }
    return handlers;
  }

  /** Executions whose runner is gone are marked (markOrphans); a deploy one had in flight goes back to blue. */
  private reapOrphans(): void {
    for (const { execution } of markOrphans(this.store, (id) => this.running.has(id))) void this.canary.abortExecution(execution.id).catch(() => undefined);
  }
}

/**
 * How long an ended execution waits for its handlers to finish: a build's shell gets its kill grace
 * (3 s) and the kernel's SIGKILL; more than this means a handler ignores its signal, and the end is
 * written anyway.
 */
const HANDLER_SETTLE_MS = 15_000;

/** The same handlers, each call kept in `inFlight` until it settles. */
function tracked(handlers: Record<string, TaskHandler>, inFlight: Set<Promise<unknown>>): Record<string, TaskHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => [
      state,
      (input: unknown) => {
        const call = Promise.resolve().then(() => handler(input));
        inFlight.add(call);
        void call.then(
          () => inFlight.delete(call),
          () => inFlight.delete(call),
        );
        return call;
      },
    ]),
  ) as Record<string, TaskHandler>;
}

/** Resolves once every promise has settled, or after `ms`, whichever comes first. */
async function settled(promises: Set<Promise<unknown>>, ms: number): Promise<void> {
  if (promises.size === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((done) => {
    timer = setTimeout(done, ms);
  });
  await Promise.race([Promise.allSettled([...promises]), timeout]);
  clearTimeout(timer);
}
