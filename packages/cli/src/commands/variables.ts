import { parseSourceRevisionFlag, type SourceRevisionOverride } from '@stepline/core';
import { UsageError } from '../errors';

/** `--var NAME=value` options into a map; the value may contain `=`. */
export function parseVariables(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var ${pair}: expected NAME=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** The help of `--source-revision`, the same on every verb that takes it. */
export const SOURCE_REVISION_HELP =
  "build a source action at this revision instead of its branch head: <action>=COMMIT_ID:<sha> (repeatable; as CodePipeline's sourceRevisions)";

/** `--source-revision Action=TYPE:value` options; each is checked against the pipeline where it starts. */
export const parseSourceRevisions = (flags: readonly string[]): SourceRevisionOverride[] => flags.map((f) => parseSourceRevisionFlag(f));

/** Commander's collector for repeatable options. */
export const collect = (v: string, all: string[]) => [...all, v];
