/**
 * Binds every Task of a compiled machine to a stub that answers the way its AWS integration would
 * (CodeBuild's `{Build}`, Lambda's `{Payload}`, a task-token decision), recording each call.
 */
import type { CompiledPipeline } from '@stepline/core';
import { type TaskHandler, taskStateNames } from '@stepline/local';

export interface StubCall {
  state: string;
  input: unknown;
}

export type Override = (input: unknown) => unknown;

export function stubHandlers(compiled: CompiledPipeline, overrides: Record<string, Override> = {}, calls: StubCall[] = []): Record<string, TaskHandler> {
  const handlers: Record<string, TaskHandler> = {};
  for (const state of taskStateNames(compiled.definition)) {
    const info = compiled.stateMap[state];
    handlers[state] = async (input: unknown) => {
      calls.push({ state, input });
      const override = overrides[state];
      if (override) return override(input);
      if (info?.role === 'gate') return {};
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

/** Wait states shortened to 1 ms. */
export function noWaits(compiled: CompiledPipeline): Record<string, number> {
  return Object.fromEntries(
    Object.keys(compiled.stateMap)
      .filter((n) => n.endsWith(' · bake') || n.endsWith(' · wait for termination'))
      .map((n) => [n, 1]),
  );
}
