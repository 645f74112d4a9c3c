/**
 * Binds every Task of a compiled machine to a stub that answers the way its AWS integration would
 * (CodeBuild's `{Build}` or `{BuildBatch}`, Lambda's `{Payload}`, a task-token decision), recording each call.
 */
import {
  type CompiledPipeline,
  type ConditionCheckPayload,
  type ConditionOverride,
  type ExecutionInput,
  evaluateCondition,
  type RuleEffects,
} from '@stepline/core';
import { type EngineEvent, execute, type TaskHandler, taskStateNames } from '@stepline/local';

export interface StubCall {
  state: string;
  input: unknown;
}

export type Override = (input: unknown) => unknown;

/** A Task that fails with the error `name` (a `Stepline.*` name, as the real handler throws it) and `message`. */
export const failWith =
  (name: string, message: string): Override =>
  () => {
    throw Object.assign(new Error(message), { name });
  };

/** Each Task state's `Resource`, nested states included. */
function resources(machine: { States: Record<string, unknown> }, into = new Map<string, string>()): Map<string, string> {
  for (const [name, state] of Object.entries(machine.States) as Array<[string, { Type: string; Resource?: string; Branches?: []; ItemProcessor?: never }]>) {
    if (state.Type === 'Task' && state.Resource) into.set(name, state.Resource);
    for (const branch of state.Branches ?? []) resources(branch, into);
    if (state.ItemProcessor) resources(state.ItemProcessor, into);
  }
  return into;
}

export function stubHandlers(compiled: CompiledPipeline, overrides: Record<string, Override> = {}, calls: StubCall[] = []): Record<string, TaskHandler> {
  const handlers: Record<string, TaskHandler> = {};
  const resourceOf = resources(compiled.definition);
  for (const state of taskStateNames(compiled.definition)) {
    const info = compiled.stateMap[state];
    handlers[state] = async (input: unknown) => {
      calls.push({ state, input });
      const override = overrides[state];
      if (override) return override(input);
      if (info?.role === 'gate') return {};
      if (info?.role === 'condition')
        return { Payload: await evaluateCondition((input as { Payload: ConditionCheckPayload }).Payload, passingRules, new Date()) };
      switch (info?.kind) {
        case 'source':
          return {
            Payload: {
              variables: {
                CommitId: 'c0ffee',
                BranchName: 'main',
                CommitMessage: 'msg',
                AuthorName: 'dev',
                AuthorDate: '2026-11-26T00:00:00Z',
                FullRepositoryName: 'acme/web',
                ProviderType: 'GitHub',
              },
            },
          };
        case 'build':
        case 'test':
        case 'commands':
          if (resourceOf.get(state)?.endsWith(':startBuildBatch.sync'))
            return {
              BuildBatch: { Id: `${state}:batch`, BuildBatchStatus: 'SUCCEEDED', BuildGroups: [{ Identifier: 'build1', DependsOn: [], IgnoreFailure: false }] },
            };
          return { Build: { Id: `${state}:1`, BuildNumber: 1, BuildStatus: 'SUCCEEDED', ExportedEnvironmentVariables: [] } };
        case 'approval':
          return { approvedBy: 'tester', comment: '', decidedAt: '2026-11-26T00:00:00Z' };
        default:
          return { Payload: {} };
      }
    };
  }
  return handlers;
}

/** Rule effects where every alarm is OK and every function or command passes: core's evaluation decides the rest. */
export const passingRules: RuleEffects = {
  alarmState: async () => 'OK',
  invoke: async () => ({ passed: true, reason: 'stub passed' }),
  commands: async () => ({ passed: true, reason: 'stub passed' }),
};

/** A condition check answered by core's evaluation with the given effects. */
export const conditionStub =
  (effects: Partial<RuleEffects>, now = () => new Date(), override: () => ConditionOverride | undefined = () => undefined) =>
  (input: unknown) =>
    evaluateCondition((input as { Payload: ConditionCheckPayload }).Payload, { ...passingRules, ...effects }, now(), override()).then((r) => ({ Payload: r }));

/** Wait states shortened to 1 ms. */
export function noWaits(compiled: CompiledPipeline): Record<string, number> {
  return Object.fromEntries(
    Object.keys(compiled.stateMap)
      .filter((n) => n.endsWith(' · bake') || n.endsWith(' wait') || n.endsWith(' · wait for termination') || compiled.stateMap[n]?.role === 'condition')
      .map((n) => [n, 1]),
  );
}

/** A manual start of pipeline `p` with nothing else: what most stubbed runs start from. */
export const MANUAL_START: ExecutionInput = { pipeline: 'p', trigger: { type: 'StartPipelineExecution' }, source: {}, variables: {} };

/**
 * Runs a compiled machine in the local engine with every Task stubbed (`overrides` first) and its
 * waits shortened: the outcome, each Task call, and every engine event in order.
 */
export async function runStubbed(compiled: CompiledPipeline, overrides: Record<string, Override> = {}, input: ExecutionInput = MANUAL_START) {
  const calls: StubCall[] = [];
  const events: EngineEvent[] = [];
  const running = execute(compiled.definition, {
    input,
    executionName: 'exec-1',
    handlers: stubHandlers(compiled, overrides, calls),
    waitTimeOverrides: noWaits(compiled),
    onEvent: (e) => events.push(e),
  });
  return { outcome: await running.outcome, calls, events };
}
