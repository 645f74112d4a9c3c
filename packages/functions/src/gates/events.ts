/**
 * What the gate function is sent, parsed once: a stage entry from a gate Task, an EventBridge
 * "Step Functions Execution Status Change", or an operator's request (disable, enable, describe).
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
 */
import { ErrorName, ExecutionInputSchema, ExecutionMode, type GateState, heldExecutions, SteplineError, TERMINAL_SFN_STATUSES } from '@stepline/core';
import * as z from 'zod';
import type { GateResult, GateService } from './service';

const name = z.string().min(1);

export const EnterEventSchema = z.object({
  taskToken: z.string().min(1),
  pipeline: name,
  stage: name,
  executionId: name,
  executionMode: z.enum(Object.values(ExecutionMode)),
  firstStage: z.boolean(),
});

export const StatusChangeEventSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string(),
    stateMachineArn: z.string(),
    name,
    status: z.string(),
    input: z.string().nullish(),
  }),
});

export const OperationEventSchema = z.discriminatedUnion('operation', [
  z.object({ operation: z.literal('disable'), pipeline: name, stage: name, reason: z.string().min(1).max(300), by: z.string().optional() }),
  z.object({ operation: z.literal('enable'), pipeline: name, stage: name }),
  z.object({ operation: z.literal('describe'), pipeline: name }),
]);

export const GateEventSchema = z.union([EnterEventSchema, StatusChangeEventSchema, OperationEventSchema]);
export type GateFunctionEvent = z.infer<typeof GateEventSchema>;

export interface DispatchOptions {
  service: GateService;
  /** State machines are named `<prefix><pipeline>`: the fallback when an event carries no input. */
  stateMachinePrefix: string;
}

/** What the function returns: the pipeline's gate state after the event, for operators and logs. */
export interface GateReply {
  pipeline: string;
  ignored?: string;
  disabled?: GateState['disabled'];
  held?: ReturnType<typeof heldExecutions>;
  delivered?: number;
  owed?: number;
}

export class GateEventInvalidError extends SteplineError {
  constructor(message: string) {
    super(ErrorName.GateEventInvalid, message);
  }
}

export async function dispatchGateEvent(raw: unknown, options: DispatchOptions): Promise<GateReply> {
  const parsed = GateEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GateEventInvalidError(`not a gate event${issue ? ` (${issue.path.join('.') || 'event'}: ${issue.message})` : ''}`);
  }
  const event = parsed.data;
  const { service } = options;

  if ('taskToken' in event) return reply(event.pipeline, await service.enter(event));

  if ('operation' in event) {
    switch (event.operation) {
      case 'disable':
        return reply(event.pipeline, await service.disable(event.pipeline, event.stage, event.reason, event.by));
      case 'enable':
        return reply(event.pipeline, await service.enable(event.pipeline, event.stage));
      case 'describe': {
        const document = await service.read(event.pipeline);
        return { pipeline: event.pipeline, disabled: document.state.disabled, held: heldExecutions(document.state) };
      }
    }
  }

  const { detail } = event;
  const pipeline = pipelineOf(detail, options.stateMachinePrefix);
  if (pipeline === undefined) return { pipeline: '', ignored: `state machine ${detail.stateMachineArn} is not a stepline pipeline` };
  if (!(TERMINAL_SFN_STATUSES as readonly string[]).includes(detail.status)) return { pipeline, ignored: `status ${detail.status} changes no gate` };
  return reply(pipeline, await service.finish(pipeline, detail.name));
}

/** The pipeline an execution belongs to: from its input, else from its state machine's name. */
export function pipelineOf(detail: { stateMachineArn: string; input?: string | null | undefined }, prefix: string): string | undefined {
  if (detail.input) {
    try {
      const input = ExecutionInputSchema.safeParse(JSON.parse(detail.input));
      if (input.success) return input.data.pipeline;
    } catch {
      // not JSON: fall back to the name
    }
  }
  const machine = detail.stateMachineArn.split(':').at(-1) ?? '';
  return machine.startsWith(prefix) && machine.length > prefix.length ? machine.slice(prefix.length) : undefined;
}

function reply(pipeline: string, result: GateResult): GateReply {
  return { pipeline, disabled: result.state.disabled, held: heldExecutions(result.state), delivered: result.delivered.length, owed: result.owed.length };
}
