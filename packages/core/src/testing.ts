/** What core's tests share (not exported from the package). */
import { DefinitionError } from './errors';

/** The issues `refuse` is refused with, as `path: message` lines; fails when it is not refused as a definition. */
export function refusalOf(refuse: () => unknown): string[] {
  try {
    refuse();
  } catch (error) {
    if (error instanceof DefinitionError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  throw new Error('expected a DefinitionError, and nothing was refused');
}

/** The stage most test pipelines start with: the project's repository checked out as the artifact `Src`. */
export const SOURCE_STAGE = `  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/x, outputArtifacts: [Src] }]`;

/** A pipeline definition named `name`: the source stage, then `stages` (YAML list items, as in a file). */
export const pipelineYaml = (name: string, stages: string): string => `name: ${name}\nstages:\n${SOURCE_STAGE}\n${stages}`;
