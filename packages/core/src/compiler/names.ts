/**
 * State names and state-data keys. Names are what users read in the console and in `get-pipeline-state`
 * (`Build · CodeBuild`), so they are built in this one place. Suffixes contain spaces, which stage and
 * action names cannot, so a suffixed name never collides with an action's.
 */
import type { ActionPosition } from '../model/validate';

export const SEPARATOR = ' · ';

export const FixedState = {
  /** Starts a fresh execution, or resumes one from a stage (retry-stage-execution). */
  Start: 'Start',
  Resume: 'Resume',
  ResumeAtStage: 'Resume at stage',
  ResumeRefused: 'Resume refused',
  Initialize: 'Initialize',
  CompleteInput: 'Complete input',
  ResolveVariables: 'Resolve variables',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;

export const actionStateName = (stage: string, action: string) => `${stage}${SEPARATOR}${action}`;
export const failureStateName = (base: string) => `${base}${SEPARATOR}failed`;
export const branchFailStateName = (base: string) => `${base}${SEPARATOR}stop branch`;
export const gateStateName = (stage: string) => `${stage}${SEPARATOR}enter stage`;
export const groupStateName = (stage: string, runOrder: number) => `${stage}${SEPARATOR}run order ${runOrder}`;
export const mergeStateName = (stage: string, runOrder: number) => `${stage}${SEPARATOR}run order ${runOrder} done`;
export const deployStepName = (base: string, step: string) => `${base}${SEPARATOR}${step}`;

/**
 * Keys under `$.actions` where each action's result lives: letters, digits and `_` only, so they work
 * in every JSONPath position (ResultPath included), made unique when two sanitise the same way.
 */
export function resultKeys(positions: readonly ActionPosition[]): Map<ActionPosition, string> {
  const keys = new Map<ActionPosition, string>();
  const used = new Set<string>();
  for (const p of positions) {
    const base = `${p.stage}_${p.action.name}`.replace(/[^A-Za-z0-9_]/g, '_');
    let key = base;
    for (let n = 2; used.has(key); n++) key = `${base}_${n}`;
    used.add(key);
    keys.set(p, key);
  }
  return keys;
}

/** `.name` when the key is a plain identifier, `['na-me']` otherwise. */
export const pathKey = (key: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `['${key.replace(/'/g, "\\'")}']`);
