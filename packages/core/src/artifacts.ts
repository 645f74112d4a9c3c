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

/**
 * Compares a manifest's files with what is actually there, as a merge of two lists sorted by path: the
 * manifest's entries come one at a time (read as they stream), the present files as a sorted list with
 * their digests by index. Extra files count as problems too: an artifact is exactly what its producer
 * wrote. Memory stays flat in the number of files beyond the present list itself.
 */
export class ManifestCheck {
  /** The first problems, in path order. */
  readonly problems: ManifestProblem[] = [];
  /** Every problem, shown or not. */
  count = 0;
  private next = 0;
  private last: string | undefined;

  constructor(
    private readonly present: readonly string[],
    private readonly sha256Of: (index: number) => string,
  ) {}

  /** One manifest entry; throws when entries are not in path order (the merge would be wrong). */
  entry(path: string, sha256: string): void {
    if (this.last !== undefined && !(this.last < path)) throw new Error(`manifest entries are not sorted by path at ${path}`);
    this.last = path;
    const { present } = this;
    while (this.next < present.length && (present[this.next] as string) < path) this.problem(present[this.next++] as string, 'unexpected');
    if (present[this.next] !== path) {
      this.problem(path, 'missing');
      return;
    }
    if (this.sha256Of(this.next) !== sha256) this.problem(path, 'changed');
    this.next++;
  }

  /** After the last entry: what is left of the present files was never listed. */
  finish(): ManifestProblem[] {
    while (this.next < this.present.length) this.problem(this.present[this.next++] as string, 'unexpected');
    return this.problems;
  }

  private problem(path: string, problem: ManifestProblem['problem']): void {
    this.count++;
    if (this.problems.length < SHOWN) this.problems.push({ path, problem });
  }
}
