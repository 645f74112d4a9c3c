/**
 * Where a pipeline's gate state lives between invocations: one document per pipeline, replaced whole
 * with optimistic concurrency. A writer names the version it read (`etag`), or none to create; the store
 * refuses the write with `GateConflictError` if someone else wrote first, and the caller reads again.
 */
import { ExecutionMode, type GateState } from '@stepline/core';
import * as z from 'zod';
import { GateStateInvalidError } from './errors';

/** What is stored for one pipeline. */
export interface GateDocument {
  version: 1;
  pipeline: string;
  /** The pipeline's execution mode, as the last stage entry reported it (needed when a transition is enabled). */
  mode?: ExecutionMode;
  state: GateState;
}

export interface StoredGate {
  document: GateDocument;
  /** The version read; undefined when the pipeline has no gate state yet. */
  etag: string | undefined;
}

export interface GateStore {
  load(pipeline: string): Promise<StoredGate>;
  /**
   * Replaces the document if it is still at `etag` (creates it when `etag` is undefined); resolves to the
   * new version. Throws `GateConflictError` when another writer got there first.
   */
  save(document: GateDocument, etag: string | undefined): Promise<string>;
}

const WaiterSchema = z.object({ executionId: z.string(), token: z.string(), since: z.string() });
const EffectSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('proceed'), executionId: z.string(), stage: z.string(), token: z.string() }),
  z.object({ type: z.literal('supersede'), executionId: z.string(), stage: z.string(), token: z.string(), by: z.string() }),
]);
const GateStateSchema = z.object({
  disabled: z.record(z.string(), z.object({ reason: z.string(), disabledAt: z.string(), disabledBy: z.string().optional() })),
  occupant: z.record(z.string(), z.string()),
  waiting: z.record(z.string(), z.array(WaiterSchema)),
  running: z.array(z.string()),
  position: z.record(z.string(), z.string()),
  finished: z.array(z.string()),
  pending: z.array(EffectSchema),
});
export const GateDocumentSchema = z.object({
  version: z.literal(1),
  pipeline: z.string(),
  mode: z.enum(Object.values(ExecutionMode)).optional(),
  state: GateStateSchema,
});

/** Parses a stored document; `where` names it in the error (an S3 URL, a file). */
export function parseGateDocument(text: string, where: string): GateDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GateStateInvalidError(where, 'not JSON', { cause: error });
  }
  const result = GateDocumentSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new GateStateInvalidError(where, issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid');
  }
  const { mode, ...rest } = result.data;
  return { ...rest, ...(mode !== undefined && { mode }), state: result.data.state as GateState };
}
