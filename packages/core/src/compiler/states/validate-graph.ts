/**
 * Checks a compiled graph before anything runs it: state names unique and at most 80 characters
 * (the AWS limit), every transition resolves within its own (sub)machine, every state reachable,
 * every Task bounded by a timeout.
 */
import { createRequire } from 'node:module';
import type { State, StateMachineDefinition, SubMachine } from './types';

// asl-validator pulls in ajv, jsonata and jsonpath-plus: load it only when a full check is asked for.
const require = createRequire(import.meta.url);
const loadAslValidator = (): typeof import('asl-validator').default => require('asl-validator');

export const MAX_STATE_NAME_LENGTH = 80;

export function validateGraph(definition: StateMachineDefinition): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  visit(definition, 'States', seen, problems);
  return problems;
}

function targets(state: State): string[] {
  const out: string[] = [];
  if ('Next' in state && state.Next) out.push(state.Next);
  if (state.Type === 'Choice') {
    out.push(...state.Choices.map((c) => c.Next));
    if (state.Default) out.push(state.Default);
  }
  if ('Catch' in state && state.Catch) out.push(...state.Catch.map((c) => c.Next));
  return out;
}

function visit(machine: SubMachine, where: string, seen: Set<string>, problems: string[]): void {
  const names = Object.keys(machine.States);
  if (!machine.States[machine.StartAt]) problems.push(`${where}: StartAt "${machine.StartAt}" is not a state`);
  for (const name of names) {
    if (seen.has(name)) problems.push(`${where}: state name "${name}" is used twice`);
    seen.add(name);
    if ([...name].length > MAX_STATE_NAME_LENGTH) problems.push(`${where}: state name "${name}" is longer than ${MAX_STATE_NAME_LENGTH} characters`);
    const state = machine.States[name] as State;
    for (const next of targets(state)) {
      if (!machine.States[next]) problems.push(`${where}.${name}: transition to "${next}", which is not a state of this machine`);
    }
    if (state.Type === 'Task' && !(state.TimeoutSeconds > 0)) problems.push(`${where}.${name}: a Task needs TimeoutSeconds`);
    if (state.Type === 'Parallel') {
      for (const [i, b] of state.Branches.entries()) visit(b, `${where}.${name}.Branches[${i}]`, seen, problems);
    }
    if (state.Type === 'Map') visit(state.ItemProcessor, `${where}.${name}.ItemProcessor`, seen, problems);
  }
  const reachable = new Set<string>();
  const queue = [machine.StartAt];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (reachable.has(name) || !machine.States[name]) continue;
    reachable.add(name);
    queue.push(...targets(machine.States[name] as State));
  }
  for (const name of names) if (!reachable.has(name)) problems.push(`${where}.${name}: unreachable`);
}

/**
 * The full check: stepline's graph rules, then asl-validator (the ASL JSON schemas, paths, ARNs).
 * asl-validator builds its schemas on every call (about 0.2 s), so compiling skips it and the CLI's
 * `compile` and `validate`, and the tests, call this.
 */
export function validateStateMachine(definition: StateMachineDefinition): string[] {
  const problems = validateGraph(definition);
  if (problems.length > 0) return problems;
  // The validator writes defaults into what it is given.
  const result = loadAslValidator()(structuredClone(definition));
  return result.isValid ? [] : result.errors.map((e) => `ASL ${e['Error code']}: ${e.Message}`);
}
