import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SourceAction, type SourceRevisionOverride, SourceRevisionSchema, sourceRevisionFor } from '@stepline/core';
import { ManifestOrderError } from '../../artifacts/manifest-file';
import { resolveLocalEcrImage } from '../../source/ecr-image';
import { exportTree, resolveSource } from '../../source/git';
import type { ExecutionContext } from '../context';

interface SourcePayload {
  Payload: { repository: string; branch: string; outputArtifact: string; trigger?: unknown; sourceRevisions?: SourceRevisionOverride[] };
}

/**
 * The source action on one machine: the commit of the local repository (the one named at start, else
 * the trigger's, else the branch's head), exported into the source artifact. Answers as the source Lambda would.
 */
export function sourceHandler(ctx: ExecutionContext, action: SourceAction) {
  return async (input: unknown) => {
    const { Payload } = input as SourcePayload;
    const revision = sourceRevisionFor(action.name, SourceRevisionSchema.parse(Payload.trigger ?? {}), Payload.sourceRevisions);
    if (action.provider === 'ECR') {
      const image = await resolveLocalEcrImage(action, revision, ctx.repo);
      const dir = await ctx.artifacts.prepare(ctx.pipeline.name, ctx.executionId, Payload.outputArtifact);
      await writeFile(join(dir, 'imageDetail.json'), `${JSON.stringify(image.imageDetail, null, 2)}\n`);
      const manifest = await ctx.artifacts.seal(ctx.pipeline.name, ctx.executionId, Payload.outputArtifact);
      ctx.store.recordArtifact(ctx.executionId, Payload.outputArtifact, dir, manifest.files, new Date().toISOString());
      return { Payload: { variables: image.variables } };
    }
    const resolved = await resolveSource(ctx.repo, revision, action.branch, action.repository);
    const manifest = await exportSource(ctx, resolved.commitId, Payload.outputArtifact);
    const dir = ctx.artifacts.dir(ctx.pipeline.name, ctx.executionId, Payload.outputArtifact);
    ctx.store.recordArtifact(ctx.executionId, Payload.outputArtifact, dir, manifest.files, new Date().toISOString());
    ctx.store.setSource(ctx.executionId, resolved.commitId, resolved.variables.BranchName);
    // An S3 source reads the local repository here: it has no object, so no ETag or version to give.
    return { Payload: { variables: action.provider === 'S3' ? { ...resolved.variables, ETag: '', VersionId: '' } : resolved.variables } };
  };
}

/**
 * The commit's tree into the artifact, sealed as git archive streams it: each file hashed on its way
 * to tar, and listed in the manifest as it passes. git orders paths by their UTF-8 bytes, manifests by
 * UTF-16 code units: the two differ only where names have characters beyond U+FFFF beside ones from
 * U+E000 on. Such a tree is exported again and sealed by hashing what tar wrote.
 */
async function exportSource(ctx: ExecutionContext, commitId: string, artifact: string): Promise<{ files: number }> {
  const { pipeline, executionId } = ctx;
  const dir = await ctx.artifacts.prepare(pipeline.name, executionId, artifact);
  try {
    return await ctx.artifacts.seal(pipeline.name, executionId, artifact, exportTree(ctx.repo, commitId, dir));
  } catch (error) {
    if (!(error instanceof ManifestOrderError)) throw error;
  }
  const again = await ctx.artifacts.prepare(pipeline.name, executionId, artifact);
  for await (const _ of exportTree(ctx.repo, commitId, again));
  return ctx.artifacts.seal(pipeline.name, executionId, artifact);
}
