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

export const ManifestSchema = z.strictObject({
  artifact: z.string(),
  pipeline: z.string(),
  executionId: z.string(),
  createdAt: z.string(),
  files: z.array(z.strictObject({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface ManifestProblem {
  path: string;
  problem: 'missing' | 'changed' | 'unexpected';
}

/**
 * Compares a manifest with what is actually there (path → sha256). Extra files count as problems too:
 * an artifact is exactly what its producer wrote.
 */
export function compareManifest(manifest: Manifest, actual: ReadonlyMap<string, string>): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const listed = new Set<string>();
  for (const file of manifest.files) {
    listed.add(file.path);
    const sha = actual.get(file.path);
    if (sha === undefined) problems.push({ path: file.path, problem: 'missing' });
    else if (sha !== file.sha256) problems.push({ path: file.path, problem: 'changed' });
  }
  for (const path of actual.keys()) if (!listed.has(path)) problems.push({ path, problem: 'unexpected' });
  return problems;
}
