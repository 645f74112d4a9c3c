import { DefinitionError } from '../errors';
import { type DocumentFormat, parseDocumentText, zodIssues } from './issues';
import { type Pipeline, type PipelineDefinition, PipelineSchema } from './schema';
import { validatePipeline } from './validate';

/**
 * Parses and validates a pipeline from a plain object (a `definePipeline()` value, or parsed YAML/JSON).
 * Throws a `DefinitionError` that lists every problem found, each with its path.
 */
export function parsePipeline(value: unknown, source?: string): Pipeline {
  const result = PipelineSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new DefinitionError(zodIssues(result.error.issues), source);
  const issues = validatePipeline(result.data);
  if (issues.length > 0) throw new DefinitionError(issues, source);
  return result.data;
}

/** Parses a pipeline from YAML or JSON text (`stepline.yml`). */
export function parsePipelineText(text: string, source?: string, format?: DocumentFormat): Pipeline {
  return parsePipeline(parseDocumentText(text, source, format), source);
}

/**
 * A pipeline written in TypeScript, checked by the compiler as it is typed.
 * The value is validated when stepline loads it, with the same errors as a YAML file.
 *
 * @example
 * export default definePipeline({ name: 'web', stages: [ ... ] });
 */
export function definePipeline<const T extends PipelineDefinition>(definition: T): T {
  return definition;
}
