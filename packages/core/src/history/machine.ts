/**
 * What an execution ran: the pipeline it was started from, the compiler's state map for that
 * pipeline, and the hash of the compiled machine. Both runtimes keep it with the execution (SQLite on
 * one machine, a manifest per machine hash on AWS), so that history is always read through the
 * execution's own state map: renaming a stage later must not rewrite how an old run looks.
 */
import { createHash } from 'node:crypto';
import type { StateMap } from '../compiler/context';
import type { StateMachineDefinition } from '../compiler/states/types';
import type { Pipeline } from '../model/schema';

export interface ExecutedMachine {
  pipeline: Pipeline;
  stateMap: StateMap;
  /** SHA-256 of the compiled definition, see {@link machineHash}. */
  machineHash: string;
}

/**
 * SHA-256 (hex) of a compiled state machine definition. A definition read back as text (from
 * `DescribeStateMachineForExecution`) hashes alike to the object it was written from: the text is
 * parsed and serialized again, so whitespace does not count; key order does, as JSON.stringify keeps it.
 */
export function machineHash(definition: StateMachineDefinition | string): string {
  const value: unknown = typeof definition === 'string' ? JSON.parse(definition) : definition;
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/**
 * Where an installation keeps the manifest of one compiled machine, beside the pipeline's current
 * manifest: `_stepline/pipelines/web.json` → `_stepline/pipelines/web/<hash>.json`. Written once per
 * deploy that changes the machine and never rewritten, so an execution's own manifest outlives redeploys.
 */
export function machineManifestKey(manifestKey: string, hash: string): string {
  return `${manifestKey.replace(/\.json$/, '')}/${hash}.json`;
}
