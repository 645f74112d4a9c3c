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
export const failureStateName = (base: string, what?: string) => `${base}${SEPARATOR}${what === undefined ? '' : `${what} `}failed`;
export const branchFailStateName = (base: string) => `${base}${SEPARATOR}stop branch`;
export const gateStateName = (stage: string) => `${stage}${SEPARATOR}enter stage`;
export const groupStateName = (stage: string, runOrder: number) => `${stage}${SEPARATOR}run order ${runOrder}`;
export const mergeStateName = (stage: string, runOrder: number) => `${stage}${SEPARATOR}run order ${runOrder} done`;
export const groupFailedStateName = (stage: string, runOrder: number) => `${stage}${SEPARATOR}run order ${runOrder} failed?`;
export const deployStepName = (base: string, step: string) => `${base}${SEPARATOR}${step}`;

/** How each stage condition is named in its states (`Deploy · check entry conditions`). */
export const ConditionLabel = { beforeEntry: 'entry conditions', onSuccess: 'success conditions', onFailure: 'failure conditions' } as const;
export type ConditionKind = keyof typeof ConditionLabel;
export const conditionCheckName = (stage: string, kind: ConditionKind) => `${stage}${SEPARATOR}check ${ConditionLabel[kind]}`;
export const conditionRecheckName = (stage: string, kind: ConditionKind) => `${stage}${SEPARATOR}check ${ConditionLabel[kind]} again`;
export const conditionChoiceName = (stage: string, kind: ConditionKind) => `${stage}${SEPARATOR}${ConditionLabel[kind]} met?`;
export const conditionWaitName = (stage: string, kind: ConditionKind) => `${stage}${SEPARATOR}wait for ${ConditionLabel[kind]}`;
export const conditionFailedName = (stage: string, kind: ConditionKind) => `${stage}${SEPARATOR}${ConditionLabel[kind]} not met`;
export const skipStageName = (stage: string) => `${stage}${SEPARATOR}skip stage`;
export const onFailureStateName = (stage: string) => `${stage}${SEPARATOR}on failure`;
export const retryStageName = (stage: string) => `${stage}${SEPARATOR}retry stage`;
export const rollbackStageName = (stage: string) => `${stage}${SEPARATOR}roll back`;
export const rolledBackName = (stage: string) => `${stage}${SEPARATOR}rolled back`;
export const rollbackEndsName = (stage: string) => `${stage}${SEPARATOR}end of a rollback?`;
export const alreadySucceededName = (base: string) => `${base}${SEPARATOR}already succeeded?`;
export const keptBranchName = (base: string) => `${base}${SEPARATOR}kept`;

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

/**
 * Keys under `$.actions` that mark a stage's automatic retry, unlike every action's key (so the mark
 * travels with the action results through every state that rebuilds the state data).
 */
export function retryKeys(stages: readonly string[], actionKeys: Iterable<string>): Map<string, string> {
  const used = new Set(actionKeys);
  const keys = new Map<string, string>();
  for (const stage of stages) {
    const base = `${stage.replace(/[^A-Za-z0-9_]/g, '_')}_stage_retry`;
    let key = base;
    for (let n = 2; used.has(key); n++) key = `${base}_${n}`;
    used.add(key);
    keys.set(stage, key);
  }
  return keys;
}

/** `.name` when the key is a plain identifier, `['na-me']` otherwise. */
export const pathKey = (key: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `['${key.replace(/'/g, "\\'")}']`);
