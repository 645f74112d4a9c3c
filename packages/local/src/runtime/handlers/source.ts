import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SourceAction, type SourceRevisionOverride, SourceRevisionSchema, sourceRevisionFor } from '@stepline/core';
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
    const dir = await ctx.artifacts.prepare(ctx.pipeline.name, ctx.executionId, Payload.outputArtifact);
    const files = await exportTree(ctx.repo, resolved.commitId, dir);
    const manifest = await ctx.artifacts.seal(ctx.pipeline.name, ctx.executionId, Payload.outputArtifact, files);
    ctx.store.recordArtifact(ctx.executionId, Payload.outputArtifact, dir, manifest.files, new Date().toISOString());
    ctx.store.setSource(ctx.executionId, resolved.commitId, resolved.variables.BranchName);
    // An S3 source reads the local repository here: it has no object, so no ETag or version to give.
    return { Payload: { variables: action.provider === 'S3' ? { ...resolved.variables, ETag: '', VersionId: '' } : resolved.variables } };
  };
}
