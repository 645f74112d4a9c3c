/**
 * Checks that span more than one field of a parsed pipeline: unique names, artifacts produced before
 * they are consumed, references to namespaces that exist and run earlier. Schema checks (types, ranges,
 * unknown keys) happen in zod; these run only on a definition that passed them.
 */
import type { DefinitionIssue } from '../errors';
import {
  APPROVAL_VARIABLES,
  ECR_SOURCE_VARIABLES,
  EXECUTION_NAMESPACE,
  EXECUTION_VARIABLES,
  isWellFormed,
  PIPELINE_VARIABLES_NAMESPACE,
  referenceFields,
  referencesIn,
  S3_SOURCE_VARIABLES,
  SOURCE_VARIABLES,
  STEP_FUNCTIONS_VARIABLES,
} from './references';
import type { Action, Pipeline } from './schema';

/** Where an action sits; `stages[i].actions[j]` is its path in the definition. */
export interface ActionPosition {
  stageIndex: number;
  actionIndex: number;
  stage: string;
  action: Action;
  path: string;
}

export function actionPositions(pipeline: Pipeline): ActionPosition[] {
  return pipeline.stages.flatMap((stage, stageIndex) =>
    stage.actions.map((action, actionIndex) => ({ stageIndex, actionIndex, stage: stage.name, action, path: `stages[${stageIndex}].actions[${actionIndex}]` })),
  );
}

/** True when `a` has finished before `b` starts: an earlier stage, or a lower runOrder in the same stage. */
export function runsBefore(a: ActionPosition, b: ActionPosition): boolean {
  return a.stageIndex < b.stageIndex || (a.stageIndex === b.stageIndex && a.action.runOrder < b.action.runOrder);
}

/** The variables an action makes available under its namespace; `undefined` when they can't be known. */
export function outputVariablesOf(action: Action): readonly string[] | undefined {
  switch (action.kind) {
    case 'source':
      return action.provider === 'ECR' ? ECR_SOURCE_VARIABLES : action.provider === 'S3' ? S3_SOURCE_VARIABLES : SOURCE_VARIABLES;
    case 'approval':
      return APPROVAL_VARIABLES;
    case 'build':
    case 'test':
    case 'invoke':
      return action.outputVariables;
    case 'commands':
      // Only what it declares is exported.
      return action.outputVariables ?? [];
    case 'deploy':
    case 'codedeploy':
    case 's3deploy':
      return [];
    case 'cloudformation':
      // The stack's outputs: known once it is deployed.
      return undefined;
    case 'stepfunctions':
      // The output's fields are known only when declared.
      return action.outputVariables === undefined ? undefined : [...STEP_FUNCTIONS_VARIABLES, ...action.outputVariables];
  }
}

const describe = (p: ActionPosition) => `${p.stage}.${p.action.name} (${p.path})`;

export function validatePipeline(pipeline: Pipeline): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const positions = actionPositions(pipeline);

  const stageNames = new Map<string, number>();
  pipeline.stages.forEach((stage, i) => {
    const first = stageNames.get(stage.name);
    if (first !== undefined) add(`stages[${i}].name`, `duplicate stage name "${stage.name}" (also stages[${first}])`);
    else stageNames.set(stage.name, i);
    const actionNames = new Map<string, number>();
    stage.actions.forEach((action, j) => {
      const firstAction = actionNames.get(action.name);
      if (firstAction !== undefined)
        add(`stages[${i}].actions[${j}].name`, `duplicate action name "${action.name}" in stage ${stage.name} (also actions[${firstAction}])`);
      else actionNames.set(action.name, j);
    });
  });

  const variableNames = new Set<string>();
  pipeline.variables.forEach((v, i) => {
    if (variableNames.has(v.name)) add(`variables[${i}].name`, `duplicate variable "${v.name}"`);
    variableNames.add(v.name);
  });

  // Source actions open the pipeline, as in CodePipeline: the first stage holds them and nothing else.
  for (const p of positions) {
    const isSource = p.action.kind === 'source';
    if (p.stageIndex === 0 && !isSource) add(`${p.path}.kind`, `the first stage may hold only source actions, got ${p.action.kind}`);
    if (p.stageIndex > 0 && isSource) add(`${p.path}.kind`, 'source actions belong in the first stage');
  }
  if (!positions.some((p) => p.action.kind === 'source')) add('stages[0]', 'expected a source action in the first stage');
  if (pipeline.stages.length < 2) add('stages', 'expected at least two stages: a source stage and one that uses it');

  validateArtifacts(positions, add);
  validateNamespaces(pipeline, positions, variableNames, add);
  validateConditions(pipeline, positions, variableNames, add);

  pipeline.triggers.forEach((t, i) => {
    if (t.sourceAction !== undefined && !positions.some((p) => p.action.kind === 'source' && p.action.name === t.sourceAction)) {
      add(`triggers[${i}].sourceAction`, `no source action is named "${t.sourceAction}"`);
    }
    if (!t.push && !t.pullRequest) add(`triggers[${i}]`, 'expected push or pullRequest filters');
  });
  return issues;
}

type Add = (path: string, message: string) => void;

function validateArtifacts(positions: ActionPosition[], add: Add): void {
  const producers = new Map<string, ActionPosition>();
  for (const p of positions) {
    p.action.outputArtifacts.forEach((name, k) => {
      const other = producers.get(name);
      if (other) add(`${p.path}.outputArtifacts[${k}]`, `artifact "${name}" is already produced by ${describe(other)}`);
      else producers.set(name, p);
    });
  }
  for (const p of positions) {
    const { action } = p;
    p.action.inputArtifacts.forEach((name, k) => {
      const producer = producers.get(name);
      const at = `${p.path}.inputArtifacts[${k}]`;
      if (!producer) add(at, `artifact "${name}" is not produced by any action`);
      else if (!runsBefore(producer, p)) add(at, `artifact "${name}" is consumed before it is produced (by ${describe(producer)})`);
    });
    const inputs = action.inputArtifacts.length;
    const outputs = action.outputArtifacts.length;
    switch (action.kind) {
      case 'source':
        if (inputs > 0) add(`${p.path}.inputArtifacts`, 'a source action takes no input artifacts');
        if (outputs !== 1) add(`${p.path}.outputArtifacts`, `a source action produces exactly one artifact, got ${outputs}`);
        break;
      case 'build':
      case 'test':
        if (inputs === 0) add(`${p.path}.inputArtifacts`, `a ${action.kind} action needs at least one input artifact`);
        if (action.primarySource !== undefined && !action.inputArtifacts.includes(action.primarySource)) {
          add(`${p.path}.primarySource`, `"${action.primarySource}" is not one of this action's input artifacts`);
        }
        validateBatch(p, add);
        break;
      case 'approval':
        if (inputs + outputs > 0) add(p.path, 'an approval action takes no artifacts');
        break;
      case 'deploy':
        if (inputs === 0) add(`${p.path}.inputArtifacts`, 'a deploy action needs the artifact that holds its task definition or app');
        if (outputs > 0) add(`${p.path}.outputArtifacts`, 'a deploy action produces no artifacts');
        break;
      case 'codedeploy':
        if (inputs !== 1) add(`${p.path}.inputArtifacts`, 'a codedeploy action takes exactly one input artifact: the revision, with its appspec.yml');
        if (outputs > 0) add(`${p.path}.outputArtifacts`, 'a codedeploy action produces no artifacts');
        break;
      case 'commands':
        if (inputs === 0) add(`${p.path}.inputArtifacts`, 'a commands action needs at least one input artifact: the commands run in the first');
        if (inputs > 10) add(`${p.path}.inputArtifacts`, `a commands action takes at most 10 input artifacts, got ${inputs}`);
        if (outputs > 1) add(`${p.path}.outputArtifacts`, `a commands action produces at most one artifact, got ${outputs}`);
        if (action.outputFiles !== undefined && outputs === 0)
          add(`${p.path}.outputFiles`, 'names the files of an output artifact, but the action declares none');
        break;
      case 'invoke':
        break;
      case 'cloudformation':
        if (outputs > 1) add(`${p.path}.outputArtifacts`, 'a cloudformation action writes at most one output artifact: the one its outputFileName goes in');
        break;
      case 'stepfunctions':
        if (action.inputType === 'FilePath' && inputs !== 1)
          add(`${p.path}.inputArtifacts`, 'a stepfunctions action with inputType FilePath reads its input file from exactly one input artifact');
        break;
      case 's3deploy':
        if (inputs !== 1) add(`${p.path}.inputArtifacts`, 'an s3deploy action takes exactly one input artifact: the files it deploys');
        if (outputs > 0) add(`${p.path}.outputArtifacts`, 'an s3deploy action produces no artifacts');
        break;
    }
  }
}

/**
 * A batch action's outputs: with `combineArtifacts`, one artifact holding every build's; without it,
 * CodePipeline names each output after a build (`build1`, `build1_artifact1`), which stepline does not
 * carry, so it is refused rather than left empty. A batch exports no variables.
 */
function validateBatch(p: ActionPosition, add: Add): void {
  const { action } = p;
  if (action.kind !== 'build' && action.kind !== 'test') return;
  if (!action.batchEnabled) {
    if (action.combineArtifacts) add(`${p.path}.combineArtifacts`, 'combines the artifacts of a batch: set batchEnabled: true');
    return;
  }
  const outputs = action.outputArtifacts.length;
  if (action.combineArtifacts && outputs !== 1)
    add(
      `${p.path}.outputArtifacts`,
      `a batch with combineArtifacts produces exactly one artifact (every build's in a folder named by its identifier), got ${outputs}`,
    );
  if (!action.combineArtifacts && outputs > 0)
    add(`${p.path}.outputArtifacts`, "a batch's builds write their artifacts only with combineArtifacts: true (one artifact, a folder per build)");
  if (action.outputVariables !== undefined && action.outputVariables.length > 0)
    add(
      `${p.path}.outputVariables`,
      'a batch build exports no variables: each of its builds has its own; run the build that exports them as an action of its own',
    );
}

function validateNamespaces(pipeline: Pipeline, positions: ActionPosition[], variableNames: Set<string>, add: Add): void {
  const owners = new Map<string, ActionPosition>();
  for (const p of positions) {
    const ns = p.action.namespace;
    if (ns === undefined) continue;
    if (ns === PIPELINE_VARIABLES_NAMESPACE || ns === EXECUTION_NAMESPACE) add(`${p.path}.namespace`, `"${ns}" is reserved`);
    const other = owners.get(ns);
    if (other) add(`${p.path}.namespace`, `namespace "${ns}" is already declared by ${describe(other)}`);
    else owners.set(ns, p);
  }

  for (const p of positions) {
    const fields = referenceFields(p.action);
    const allowed = new Set(fields.map((f) => f.path));
    // A reference in a field nobody resolves would reach AWS as literal text: say so instead.
    for (const [key, value] of stringLeaves(p.action)) {
      if (!allowed.has(key) && referencesIn(value).length > 0) add(`${p.path}.${key}`, 'variable references are not resolved in this field');
    }
    for (const field of fields) {
      for (const ref of referencesIn(field.value)) {
        const at = `${p.path}.${field.path}`;
        if (!isWellFormed(ref)) {
          add(at, `malformed reference ${ref.text}: expected #{Namespace.Variable}`);
          continue;
        }
        if (ref.namespace === PIPELINE_VARIABLES_NAMESPACE) {
          if (!variableNames.has(ref.variable))
            add(at, `unknown pipeline variable "${ref.variable}" in ${ref.text}${known(pipeline.variables.map((v) => v.name))}`);
          continue;
        }
        if (ref.namespace === EXECUTION_NAMESPACE) {
          if (!(EXECUTION_VARIABLES as readonly string[]).includes(ref.variable))
            add(at, `unknown variable "${ref.variable}" in ${ref.text}${known(EXECUTION_VARIABLES)}`);
          continue;
        }
        const owner = owners.get(ref.namespace);
        if (!owner) {
          add(at, `unknown namespace "${ref.namespace}" in ${ref.text}${known([...owners.keys()])}`);
          continue;
        }
        if (!runsBefore(owner, p)) {
          add(at, `${ref.text} refers to namespace "${ref.namespace}" of ${describe(owner)}, which does not run before this action`);
          continue;
        }
        const vars = outputVariablesOf(owner.action);
        if (vars !== undefined && !vars.includes(ref.variable)) {
          add(at, `unknown variable "${ref.variable}" in ${ref.text}${known(vars)}`);
        }
      }
    }
  }
}

const known = (names: readonly string[]) => (names.length ? ` (known: ${names.join(', ')})` : '');

/** Every string value of an object with its dotted path. */
function stringLeaves(value: unknown, prefix = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[prefix, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, `${prefix}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [];
}

/**
 * Stage conditions: ROLLBACK needs one execution at a time in a stage (CodePipeline refuses it in
 * PARALLEL mode), a first stage has nothing to roll back to, and rule references must name variables
 * known before the rule runs.
 */
function validateConditions(pipeline: Pipeline, positions: ActionPosition[], variableNames: Set<string>, add: Add): void {
  pipeline.stages.forEach((stage, s) => {
    for (const kind of ['onSuccess', 'onFailure'] as const) {
      const condition = stage[kind];
      if (condition?.result !== 'ROLLBACK') continue;
      if (pipeline.executionMode === 'PARALLEL') {
        add(`stages[${s}].${kind}.result`, 'ROLLBACK is not available in PARALLEL execution mode (as in CodePipeline): use SUPERSEDED or QUEUED, or FAIL');
      }
      if (s === 0) add(`stages[${s}].${kind}.result`, 'the first stage cannot roll back: it has no earlier execution to go back to');
    }
    if (s === 0 && stage.beforeEntry) add(`stages[${s}].beforeEntry`, 'the first stage has no entry condition: its source actions start the execution');
    for (const kind of ['beforeEntry', 'onSuccess', 'onFailure'] as const) {
      stage[kind]?.rules?.forEach((rule, r) => {
        const at = `stages[${s}].${kind}.rules[${r}]`;
        if (rule.provider === 'Commands') {
          rule.inputArtifacts?.forEach((name, i) => {
            const producer = positions.find((p) => p.action.outputArtifacts.includes(name));
            if (!producer) add(`${at}.inputArtifacts[${i}]`, `artifact "${name}" is not produced by any action`);
            else if (!(producer.stageIndex < s || (kind !== 'beforeEntry' && producer.stageIndex === s)))
              add(`${at}.inputArtifacts[${i}]`, `artifact "${name}" is produced by ${describe(producer)}, which has not run when this rule is checked`);
          });
        }
        for (const [field, value] of stringLeaves(rule)) {
          for (const ref of referencesIn(value)) {
            const problem = ruleReferenceProblem(
              ref,
              positions,
              variableNames,
              (owner) => owner.stageIndex < s || (kind !== 'beforeEntry' && owner.stageIndex === s),
            );
            if (problem) add(`${at}.${field}`, problem);
          }
        }
      });
    }
  });
}

function ruleReferenceProblem(
  ref: ReturnType<typeof referencesIn>[number],
  positions: ActionPosition[],
  variableNames: Set<string>,
  ranBefore: (owner: ActionPosition) => boolean,
): string | undefined {
  if (!isWellFormed(ref)) return `malformed reference ${ref.text}: expected #{Namespace.Variable}`;
  if (ref.namespace === PIPELINE_VARIABLES_NAMESPACE)
    return variableNames.has(ref.variable) ? undefined : `unknown pipeline variable "${ref.variable}" in ${ref.text}`;
  if (ref.namespace === EXECUTION_NAMESPACE) {
    return (EXECUTION_VARIABLES as readonly string[]).includes(ref.variable) ? undefined : `unknown variable "${ref.variable}" in ${ref.text}`;
  }
  const owner = positions.find((p) => p.action.namespace === ref.namespace);
  if (!owner) return `unknown namespace "${ref.namespace}" in ${ref.text}`;
  if (!ranBefore(owner)) return `${ref.text} refers to namespace "${ref.namespace}" of ${describe(owner)}, which has not run when this rule is checked`;
  const vars = outputVariablesOf(owner.action);
  return vars !== undefined && !vars.includes(ref.variable) ? `unknown variable "${ref.variable}" in ${ref.text}${known(vars)}` : undefined;
}
