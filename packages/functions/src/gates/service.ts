/**
 * The gate function's work, without Lambda around it: read a pipeline's gate state, apply one event with
 * core's `applyGateEvent`, write it back conditionally (reading again when someone else wrote first),
 * answer the task tokens the new state owes, then record them as delivered. The AWS handler, the CLI's
 * disable/enable and tests all go through this one class.
 */
import { applyGateEvent, type ExecutionMode, type GateEffect, type GateEvent, type GateState } from '@stepline/core';
import { GateConflictError, GateContentionError } from './errors';
import type { TaskResponder } from './responder';
import type { GateDocument, GateStore } from './store';

/** What a stage's gate Task sends (`lambda:invoke.waitForTaskToken` Payload; see core's `compileGate`). */
export interface EnterRequest {
  taskToken: string;
  pipeline: string;
  stage: string;
  executionId: string;
  executionMode: ExecutionMode;
  firstStage: boolean;
}

export interface GateResult {
  state: GateState;
  /** Answers given during this call, or found unneeded because nobody waits on the token any more. */
  delivered: GateEffect[];
  /** Answers still owed after this call (delivery failed); the next event on the pipeline tries again. */
  owed: GateEffect[];
}

export interface GateServiceOptions {
  store: GateStore;
  responder: TaskResponder;
  /** @default () => new Date() */
  now?: () => Date;
  /** Conditional writes tried before giving up. @default 8 */
  maxAttempts?: number;
  /** @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>;
  /** Where delivery problems are reported. @default console.warn */
  warn?: (message: string, details: Record<string, unknown>) => void;
}

export class GateService {
  private readonly store: GateStore;
  private readonly responder: TaskResponder;
  private readonly now: () => Date;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly warn: (message: string, details: Record<string, unknown>) => void;

  constructor(options: GateServiceOptions) {
    this.store = options.store;
    this.responder = options.responder;
    this.now = options.now ?? (() => new Date());
    this.maxAttempts = options.maxAttempts ?? 8;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.warn = options.warn ?? ((message, details) => console.warn(message, details));
  }

  /** An execution reached a stage's entry: let it in, hold it, or supersede older ones. */
  enter(request: EnterRequest): Promise<GateResult> {
    const event: GateEvent = {
      type: 'enter',
      executionId: request.executionId,
      stage: request.stage,
      token: request.taskToken,
      mode: request.executionMode,
      firstStage: request.firstStage,
      at: this.now().toISOString(),
    };
    return this.handle(request.pipeline, event, request.executionMode);
  }

  /** An execution ended (any status): it frees the stage or queue place it held. */
  finish(pipeline: string, executionId: string): Promise<GateResult> {
    return this.handle(pipeline, { type: 'finish', executionId });
  }

  /** Disables a stage's inbound transition: executions reaching its entry wait there. */
  disable(pipeline: string, stage: string, reason: string, by?: string): Promise<GateResult> {
    return this.handle(pipeline, { type: 'disable', stage, reason, at: this.now().toISOString(), ...(by !== undefined && { by }) });
  }

  /** Enables a stage's inbound transition again, letting in what waits at its entry. */
  enable(pipeline: string, stage: string): Promise<GateResult> {
    return this.handle(pipeline, { type: 'enable', stage });
  }

  /** Answers owed from earlier calls, with no new event. */
  async flush(pipeline: string): Promise<GateResult> {
    const { document } = await this.store.load(pipeline);
    return this.deliverPending(document);
  }

  async read(pipeline: string): Promise<GateDocument> {
    return (await this.store.load(pipeline)).document;
  }

  private async handle(pipeline: string, event: GateEvent, mode?: ExecutionMode): Promise<GateResult> {
    const document = await this.update(pipeline, event, mode);
    return this.deliverPending(document);
  }

  private async deliverPending(document: GateDocument): Promise<GateResult> {
    const delivered: GateEffect[] = [];
    const owed: GateEffect[] = [];
    for (const effect of document.state.pending) {
      try {
        await this.responder.deliver(effect);
        delivered.push(effect);
      } catch (error) {
        owed.push(effect);
        this.warn('gate: could not answer a task token; the next event on this pipeline tries again', {
          pipeline: document.pipeline,
          effect: effect.type,
          executionId: effect.executionId,
          stage: effect.stage,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
      }
    }
    if (delivered.length === 0) return { state: document.state, delivered, owed };
    try {
      const recorded = await this.update(document.pipeline, { type: 'delivered', effects: delivered });
      return { state: recorded.state, delivered, owed };
    } catch (error) {
      // The answers were given; answering them again later is harmless (a token takes one answer).
      this.warn('gate: answered task tokens but could not record it', {
        pipeline: document.pipeline,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      return { state: document.state, delivered, owed };
    }
  }

  /** Read, apply, conditional write; again from the read when another writer got there first. */
  private async update(pipeline: string, event: GateEvent, mode?: ExecutionMode): Promise<GateDocument> {
    for (let attempt = 1; ; attempt++) {
      const { document, etag } = await this.store.load(pipeline);
      const effectiveMode = mode ?? document.mode;
      const state = applyGateEvent(document.state, event, effectiveMode);
      if (etag !== undefined && effectiveMode === document.mode && JSON.stringify(state) === JSON.stringify(document.state)) return document;
      const next: GateDocument = { version: 1, pipeline, ...(effectiveMode !== undefined && { mode: effectiveMode }), state };
      try {
        await this.store.save(next, etag);
        return next;
      } catch (error) {
        if (!(error instanceof GateConflictError)) throw error;
        if (attempt >= this.maxAttempts) throw new GateContentionError(pipeline, attempt, { cause: error });
        // Full jitter, so writers that collided do not collide again in step.
        await this.sleep(Math.random() * Math.min(1000, 20 * 2 ** attempt));
      }
    }
  }
}
