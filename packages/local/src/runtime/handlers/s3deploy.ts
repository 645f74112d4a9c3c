import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ErrorName, type S3DeployAction, SteplineError, zipStored } from '@stepline/core';
import { listFiles } from '../../artifacts/store';
import { actionDirs, type ExecutionContext, needsLocalSetting, throwIfStopped } from '../context';

interface S3DeployPayload {
  Payload: { objectKey?: string; extract: boolean };
}

/**
 * An S3 deploy action on one machine writes its input artifact (verified against its manifest) into
 * `local.directory`, relative to the directory stepline runs from: each file under its path (below
 * `objectKey` when one is given), or one zip at `objectKey`. Files already there stay, as in a bucket.
 */
export function s3DeployHandler(ctx: ExecutionContext, action: S3DeployAction, stage: string) {
  return async (input: unknown) => {
    const { Payload } = input as S3DeployPayload;
    if (action.local === undefined) {
      throw needsLocalSetting(action, `deploys to the S3 bucket ${action.bucket}`, 'local.directory to deploy into');
    }
    const target = resolve(action.local.directory);
    const artifact = action.inputArtifacts[0] ?? '';
    const key = Payload.objectKey ?? '';
    if (key.split('/').includes('..')) throw new SteplineError(ErrorName.ActionFailed, `objectKey ${key} leaves ${target}`);
    throwIfStopped(ctx, action.name);
    if (Payload.extract) {
      const into = join(target, key);
      const copied = await ctx.artifacts.copyTo(ctx.pipeline.name, ctx.executionId, artifact, into);
      return { Payload: { directory: into, files: copied.files } };
    }
    const { work } = await actionDirs(ctx, stage, action.name);
    const staged = join(work, 'artifact');
    const copied = await ctx.artifacts.copyTo(ctx.pipeline.name, ctx.executionId, artifact, staged);
    // The zip is made in memory: this holds the artifact whole anyway.
    const entries = await Promise.all((await listFiles(staged)).map(async (path) => ({ path, data: new Uint8Array(await readFile(join(staged, path))) })));
    const file = join(target, key);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, zipStored(entries));
    return { Payload: { file, files: copied.files } };
  };
}
