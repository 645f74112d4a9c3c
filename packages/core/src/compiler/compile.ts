/**
 * Pipeline model → one ASL state machine (JSONPath only), a state map and the IAM statements its role
 * needs. Stages run in order, each behind a gate state that holds executions while its inbound
 * transition is disabled; actions of a stage with the same runOrder run in a Parallel state; any
 * failing action fails the execution with its own error name and a cause naming its stage and action.
 *
 * State data: `{ input, variables, actions: { <key>: result } }` — the start input, the resolved pipeline
 * variables, and each finished action's result (see `actionResultPath`).
 */
import { DefinitionError, type DefinitionIssue, ErrorName } from '../errors';
import { TriggerType } from '../execution/input';
import { referenceFields, referencesIn } from '../model/references';
import type { Action, Pipeline, Stage } from '../model/schema';
import { type ActionPosition, actionPositions } from '../model/validate';
import { compileApproval } from './actions/approval';
import { compileBuild } from './actions/build';
import { compileCloudFormation } from './actions/cloudformation';
import { compileCodeDeploy } from './actions/codedeploy';
import { compileCommands } from './actions/commands';
import { addState } from './actions/common';
import { compileDeploy, deployEntryState } from './actions/deploy';
import { compileInvoke } from './actions/invoke';
import { compileS3Deploy } from './actions/s3deploy';
import { compileSource } from './actions/source';
import { type ActionContext, type CompileOptions, type ResolvedCompileOptions, resolveOptions, type StateMap } from './context';
import { type IamStatement, mergeStatements } from './iam';
import { FUNCTION_TRANSIENT_ERRORS, Resource, retryTransient, Timeout } from './integrations';
import { actionStateName, branchFailStateName, FixedState, failureStateName, gateStateName, groupStateName, mergeStateName, resultKeys } from './names';
import { escapeLiteral, ReferenceResolver } from './references';
import {
  choice,
  fail,
  type JsonObject,
  MAX_STATE_NAME_LENGTH,
  parallel,
  pass,
  type State,
  type StateMachineDefinition,
  StatesError,
  succeed,
  task,
  validateGraph,
} from './states';

export interface CompiledPipeline {
  definition: StateMachineDefinition;
  stateMap: StateMap;
  iam: IamStatement[];
  /** What the target lacks to run some actions (an invoke with only a command, on AWS). */
  warnings: DefinitionIssue[];
}

/** Step Functions' limit on a definition's size, in bytes of its UTF-8 JSON. */
export const MAX_DEFINITION_BYTES = 1024 * 1024;

/** A definition's size as Step Functions counts it: UTF-8 bytes (every state name's `·` takes two). */
export const definitionBytes = (definition: StateMachineDefinition) => new TextEncoder().encode(JSON.stringify(definition)).length;

interface Shared {
  pipeline: Pipeline;
  options: ResolvedCompileOptions;
  refs: ReferenceResolver;
  keys: Map<ActionPosition, string>;
  sourceKey: string;
  sourceProducers: Map<string, string>;
  referencedNamespaces: Set<string>;
  stateMap: StateMap;
  iam: IamStatement[];
  warnings: DefinitionIssue[];
}

export function compilePipeline(pipeline: Pipeline, compileOptions?: CompileOptions): CompiledPipeline {
  const options = resolveOptions(compileOptions);
  const positions = actionPositions(pipeline);
  const keys = resultKeys(positions);
  const sources = positions.filter((p) => p.action.kind === 'source');
  const shared: Shared = {
    pipeline,
    options,
    refs: new ReferenceResolver(pipeline, keys),
    keys,
    sourceKey: keys.get(sources[0] as ActionPosition) ?? '',
    sourceProducers: new Map(sources.flatMap((p) => p.action.outputArtifacts.map((a) => [a, keys.get(p) ?? ''] as const))),
    referencedNamespaces: new Set(positions.flatMap((p) => referenceFields(p.action).flatMap((f) => referencesIn(f.value).map((r) => r.namespace)))),
    stateMap: {},
    iam: [],
    warnings: [],
  };
  const states: Record<string, State> = {};
  const record = (name: string, state: State, info: StateMap[string]) => {
    states[name] = state;
    shared.stateMap[name] = info;
  };

  record(FixedState.Succeeded, succeed(), { role: 'pipeline' });
  record(FixedState.Failed, fail({ errorPath: '$.failure.Error', causePath: '$.failure.Cause' }), { role: 'pipeline' });

  // Built back to front, so each piece knows its successor.
  let next: string = FixedState.Succeeded;
  const gates: Array<{ stage: string; gate: string }> = [];
  for (let s = pipeline.stages.length - 1; s >= 0; s--) {
    const stage = pipeline.stages[s] as Stage;
    const groups = groupByRunOrder(positions.filter((p) => p.stageIndex === s));
    for (let g = groups.length - 1; g >= 0; g--) next = compileGroup(shared, states, groups[g] as ActionPosition[], next);
    next = compileGate(shared, states, stage, s === 0, next);
    gates.unshift({ stage: stage.name, gate: next });
  }
  compileResume(states, shared.stateMap, gates);

  const defaults: JsonObject = {};
  for (const v of pipeline.variables) if (v.default !== undefined) defaults[v.name] = v.default;
  // An execution started from outside stepline (the console's `{}`, start-execution without input, a
  // schedule) has no source or variables: it runs on the source's branch head with default variables,
  // as start-pipeline-execution does. What the input gives wins over this blank one.
  const blank: JsonObject = { pipeline: pipeline.name, trigger: { type: TriggerType.Manual }, source: {}, variables: {}, sourceRevisions: [] };
  record(FixedState.Initialize, pass({ parameters: { 'input.$': '$', defaults, blank }, next: FixedState.CompleteInput }), { role: 'pipeline' });
  record(
    FixedState.CompleteInput,
    pass({ parameters: { 'input.$': 'States.JsonMerge($.blank, $.input, false)', 'defaults.$': '$.defaults' }, next: FixedState.ResolveVariables }),
    { role: 'pipeline' },
  );
  record(
    FixedState.ResolveVariables,
    pass({ parameters: { 'input.$': '$.input', 'variables.$': 'States.JsonMerge($.defaults, $.input.variables, false)', actions: {} }, next }),
    { role: 'pipeline' },
  );

  const definition: StateMachineDefinition = {
    Comment: `stepline pipeline ${pipeline.name}`,
    QueryLanguage: 'JSONPath',
    StartAt: FixedState.Start,
    States: orderStates(states, FixedState.Start),
    ...(pipeline.timeoutMinutes !== undefined && { TimeoutSeconds: pipeline.timeoutMinutes * 60 }),
  };

  // Step Functions refuses a larger definition: on AWS this is an error, not a warning.
  const size = definitionBytes(definition);
  if (options.target === 'aws' && size > MAX_DEFINITION_BYTES) {
    throw new DefinitionError(
      [
        {
          path: 'stages',
          message: `the state machine is ${size} bytes (${Math.ceil(size / 1024)} KiB of UTF-8); Step Functions accepts at most ${MAX_DEFINITION_BYTES} bytes: split the pipeline into two pipelines, or use fewer actions or shorter stage and action names (every state name carries them)`,
        },
      ],
      pipeline.name,
    );
  }
  const tooLong = longStateNames(pipeline, shared.stateMap);
  if (tooLong.length > 0) throw new DefinitionError(tooLong, pipeline.name);
  const problems = validateGraph(definition).map((message) => ({ path: '', message }));
  if (problems.length > 0) throw new DefinitionError(problems, pipeline.name);
  return { definition, stateMap: shared.stateMap, iam: mergeStatements(shared.iam), warnings: shared.warnings };
}

/** State names are built from stage and action names; one too long for AWS is reported where it comes from. */
function longStateNames(pipeline: Pipeline, stateMap: StateMap): DefinitionIssue[] {
  const longest = new Map<string, string>();
  for (const [name, info] of Object.entries(stateMap)) {
    if ([...name].length <= MAX_STATE_NAME_LENGTH || info.stage === undefined) continue;
    const s = pipeline.stages.findIndex((st) => st.name === info.stage);
    const a = info.action === undefined ? -1 : (pipeline.stages[s]?.actions.findIndex((ac) => ac.name === info.action) ?? -1);
    const path = a >= 0 ? `stages[${s}].actions[${a}].name` : `stages[${s}].name`;
    if ((longest.get(path)?.length ?? 0) < name.length) longest.set(path, name);
  }
  return [...longest].map(([path, name]) => ({
    path,
    message: `makes the state name "${name}" (${[...name].length} characters), longer than the ${MAX_STATE_NAME_LENGTH} Step Functions allows: shorten the stage or action name`,
  }));
}

function groupByRunOrder(positions: ActionPosition[]): ActionPosition[][] {
  const byOrder = new Map<number, ActionPosition[]>();
  for (const p of positions) byOrder.set(p.action.runOrder, [...(byOrder.get(p.action.runOrder) ?? []), p]);
  return [...byOrder.entries()].sort(([a], [b]) => a - b).map(([, ps]) => ps);
}

/**
 * retry-stage-execution: an execution started with `resume: {stage, state}` skips to that stage's
 * entry with the state data the failed execution had there. Step Functions' RedriveExecution cannot do
 * this for stepline's machines: a failure is caught (to name its stage and action) and ends in a Fail
 * state, which is where a redrive would resume, failing again at once.
 */
function compileResume(states: Record<string, State>, stateMap: StateMap, gates: Array<{ stage: string; gate: string }>): void {
  states[FixedState.Start] = choice([{ Variable: '$.resume', IsPresent: true, Next: FixedState.Resume }], FixedState.Initialize);
  states[FixedState.Resume] = pass({
    parameters: {
      'input.$': '$.resume.state.input',
      'variables.$': '$.resume.state.variables',
      'actions.$': '$.resume.state.actions',
      'resumeStage.$': '$.resume.stage',
    },
    next: FixedState.ResumeAtStage,
  });
  states[FixedState.ResumeAtStage] = choice(
    gates.map((g) => ({ Variable: '$.resumeStage', StringEquals: g.stage, Next: g.gate })),
    FixedState.ResumeRefused,
  );
  states[FixedState.ResumeRefused] = fail({ error: ErrorName.DefinitionInvalid, cause: 'resume names a stage this pipeline does not have' });
  for (const name of [FixedState.Start, FixedState.Resume, FixedState.ResumeAtStage, FixedState.ResumeRefused]) stateMap[name] = { role: 'pipeline' };
}

/** The error's cause, prefixed with the stage and action it came from. */
function failurePass(label: string, next: string): State {
  return pass({
    parameters: { 'Error.$': '$.failure.Error', 'Cause.$': `States.Format('${escapeLiteral(label)}: {}', $.failure.Cause)` },
    resultPath: '$.failure',
    next,
  });
}

/** Compiles one action into `states`; returns its entry state. */
function compileAction(shared: Shared, states: Record<string, State>, position: ActionPosition, next: string | undefined, failTo: string): string {
  const name = actionStateName(position.stage, position.action.name);
  const catchTo = failureStateName(name);
  const ctx: ActionContext = { ...shared, position, name, key: shared.keys.get(position) ?? '', next, catchTo, failTo, states };
  addState(ctx, catchTo, failurePass(`Stage ${position.stage}, action ${position.action.name} failed`, failTo), { role: 'failure' });
  const compile = ACTION_COMPILERS[position.action.kind] as (ctx: ActionContext, action: Action) => unknown;
  const entry = compile(ctx, position.action);
  return typeof entry === 'string' ? entry : name;
}

/**
 * How each kind of action compiles: its states go into the context's. A compiler that answers a state
 * name names the action's entry, when that is not the state named after the action (a deploy starts
 * with its plan).
 */
const ACTION_COMPILERS: { [K in Action['kind']]: (ctx: ActionContext, action: Extract<Action, { kind: K }>) => unknown } = {
  source: compileSource,
  build: compileBuild,
  test: compileBuild,
  approval: compileApproval,
  invoke: compileInvoke,
  deploy: (ctx, action) => {
    compileDeploy(ctx, action);
    return deployEntryState(ctx);
  },
  codedeploy: compileCodeDeploy,
  s3deploy: compileS3Deploy,
  cloudformation: compileCloudFormation,
  commands: compileCommands,
};

function compileGroup(shared: Shared, states: Record<string, State>, group: ActionPosition[], next: string): string {
  const [only] = group;
  if (group.length === 1 && only) return compileAction(shared, states, only, next, FixedState.Failed);

  const first = group[0] as ActionPosition;
  const groupName = groupStateName(first.stage, first.action.runOrder);
  const mergeName = mergeStateName(first.stage, first.action.runOrder);
  const selector: JsonObject = {};
  const branches = group.map((position, i) => {
    const branchStates: Record<string, State> = {};
    const stopName = branchFailStateName(actionStateName(position.stage, position.action.name));
    branchStates[stopName] = fail({ errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
    shared.stateMap[stopName] = { role: 'failure', stage: position.stage, action: position.action.name, kind: position.action.kind };
    const entry = compileAction(shared, branchStates, position, undefined, stopName);
    const key = shared.keys.get(position) ?? '';
    selector[`${key}.$`] = `$[${i}].actions.${key}`;
    return { StartAt: entry, States: orderStates(branchStates, entry) };
  });
  states[groupName] = parallel({
    branches,
    resultSelector: selector,
    resultPath: '$.parallel',
    // Each branch already wrote a failure naming its stage and action.
    catch: [{ ErrorEquals: [StatesError.All], ResultPath: '$.failure', Next: FixedState.Failed }],
    next: mergeName,
  });
  states[mergeName] = pass({
    parameters: { 'input.$': '$.input', 'variables.$': '$.variables', 'actions.$': 'States.JsonMerge($.actions, $.parallel, false)' },
    next,
  });
  shared.stateMap[groupName] = { role: 'group', stage: first.stage };
  shared.stateMap[mergeName] = { role: 'group', stage: first.stage };
  return groupName;
}

/**
 * A stage's entry. The gate function answers at once while the transition is enabled and the
 * execution mode lets the execution in; otherwise it keeps the task token and answers later (see
 * `applyGateEvent`), so a held execution costs no state transitions. The first stage's gate is where
 * QUEUED executions wait their turn.
 */
function compileGate(shared: Shared, states: Record<string, State>, stage: Stage, firstStage: boolean, next: string): string {
  const name = gateStateName(stage.name);
  const failure = failureStateName(name);
  const fn = shared.options.functions.gate;
  shared.iam.push({ Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [fn] });
  states[name] = task({
    resource: Resource.LambdaWaitForToken,
    parameters: {
      FunctionName: fn,
      Payload: {
        'taskToken.$': '$$.Task.Token',
        pipeline: shared.pipeline.name,
        stage: stage.name,
        'executionId.$': '$$.Execution.Name',
        executionMode: shared.pipeline.executionMode,
        firstStage,
      },
    },
    resultPath: null,
    timeoutSeconds: Timeout.gateMinutes * 60,
    // The gate throws Stepline.Transient when its state kept changing under concurrent writes.
    retry: retryTransient(FUNCTION_TRANSIENT_ERRORS),
    catch: [{ ErrorEquals: [StatesError.All], ResultPath: '$.failure', Next: failure }],
    next,
  });
  states[failure] = failurePass(`Stage ${stage.name} was not entered`, FixedState.Failed);
  shared.stateMap[name] = { role: 'gate', stage: stage.name };
  shared.stateMap[failure] = { role: 'failure', stage: stage.name };
  return name;
}

/** States in the order an execution meets them (then the rest), so the JSON reads top to bottom. */
function orderStates(states: Record<string, State>, start: string): Record<string, State> {
  const ordered: Record<string, State> = {};
  const visit = (name: string) => {
    const state = states[name];
    if (!state || name in ordered) return;
    ordered[name] = state;
    if ('Next' in state && state.Next) visit(state.Next);
    if (state.Type === 'Choice') for (const c of state.Choices) visit(c.Next);
    if ('Catch' in state && state.Catch) for (const c of state.Catch) visit(c.Next);
  };
  visit(start);
  for (const name of Object.keys(states)) visit(name);
  return ordered;
}
