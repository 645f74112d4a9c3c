/**
 * Where artifacts live: `<pipeline>/<execution>/<artifact>/` under the artifact store (an S3 bucket on
 * AWS, `.stepline/artifacts/` on one machine), each with a `manifest.json` that lists every file and its
 * SHA-256. Written once; a consumer verifies the manifest before it uses the files.
 */
import * as z from 'zod';

export const MANIFEST_FILE = 'manifest.json';

export function artifactPrefix(pipeline: string, executionId: string, artifact: string): string {
  return `${pipeline}/${executionId}/${artifact}/`;
}

export const ManifestFileSchema = z.strictObject({
  path: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

export const ManifestSchema = z.strictObject({
  artifact: z.string(),
  pipeline: z.string(),
  executionId: z.string(),
  createdAt: z.string(),
  /** Sorted by path (code unit order), each once. */
  files: z.array(ManifestFileSchema),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface ManifestProblem {
  path: string;
  problem: 'missing' | 'changed' | 'unexpected';
}

/** Problems shown by name; the rest are counted (a wholly wrong artifact of 200,000 files lists five). */
const SHOWN = 5;

/** A file by its path and digest: a manifest's entry, or a file found in the artifact. */
export interface DigestedFile {
  path: string;
  sha256: string;
}

export interface ManifestComparison {
  /** The first problems, in path order. */
  problems: ManifestProblem[];
  /** Every problem, shown or not. */
  count: number;
}

/**
 * Compares a manifest's files with what is actually there, as a merge of two lists sorted by path,
 * both read as they stream (the manifest from its file, the present files as they are hashed or
 * copied): nothing of either is held, so memory stays flat in the number of files. Extra files count
 * as problems too: an artifact is exactly what its producer wrote. Throws when the manifest's entries
 * are not in path order (the merge would be wrong).
 */
export async function compareWithManifest(listed: AsyncIterable<DigestedFile>, present: AsyncIterable<DigestedFile>): Promise<ManifestComparison> {
  const result: ManifestComparison = { problems: [], count: 0 };
  const problem = (path: string, kind: ManifestProblem['problem']) => {
    result.count++;
    if (result.problems.length < SHOWN) result.problems.push({ path, problem: kind });
  };
  const entries = listed[Symbol.asyncIterator]();
  const files = present[Symbol.asyncIterator]();
  try {
    let entry = await entries.next();
    let file = await files.next();
    let last: string | undefined;
    while (!entry.done || !file.done) {
      if (entry.done || (!file.done && file.value.path < entry.value.path)) {
        problem((file.value as DigestedFile).path, 'unexpected');
        file = await files.next();
        continue;
      }
      const { path, sha256 } = entry.value;
      if (last !== undefined && !(last < path)) throw new Error(`manifest entries are not sorted by path at ${path}`);
      last = path;
      if (file.done || file.value.path !== path) problem(path, 'missing');
      else {
        if (file.value.sha256 !== sha256) problem(path, 'changed');
        file = await files.next();
      }
      entry = await entries.next();
    }
  } finally {
    // Either side may be a stream with work in flight: end both, whatever ended the merge.
    await Promise.allSettled([entries.return?.(), files.return?.()]);
  }
  return result;
}
