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
