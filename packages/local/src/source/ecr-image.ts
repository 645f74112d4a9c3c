/**
 * An ECR source on one machine, where there is no registry: the image is the one the action's
 * `local.command` names (it prints a digest, `sha256:…`, or a reference `registry/repo@sha256:…`, as
 * `docker inspect --format '{{index .RepoDigests 0}}' app:latest` does), or the digest the start input
 * carries (`--source-revision Image=IMAGE_DIGEST:sha256:…`). The variables and `imageDetail.json` are CodePipeline's ECR source's.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type EcrSourceVariables, ErrorName, type SourceAction, type SourceRevision, SteplineError } from '@stepline/core';

const run = promisify(execFile);
const DIGEST = /sha256:[0-9a-f]{64}/;
/** The registry a bare digest is shown under: an ECR registry needs an account, and this machine has none. */
const LOCAL_REGISTRY = 'localhost';

export interface LocalEcrImage {
  variables: EcrSourceVariables;
  imageDetail: Record<string, unknown>;
}

export async function resolveLocalEcrImage(action: SourceAction, revision: SourceRevision, cwd: string): Promise<LocalEcrImage> {
  const tag = action.imageTag ?? 'latest';
  let reference: string;
  if (revision.imageDigest !== undefined && (revision.repository === undefined || revision.repository === action.repository)) reference = revision.imageDigest;
  else if (action.local !== undefined) {
    try {
      reference = (await run('/bin/sh', ['-c', action.local.command], { cwd, timeout: 60_000, maxBuffer: 1024 * 1024 })).stdout.trim();
    } catch (error) {
      const e = error as { stderr?: string; code?: number };
      throw new SteplineError(
        ErrorName.ActionFailed,
        `local.command of ${action.name} failed (${e.code ?? 'error'}): ${(e.stderr ?? String(error)).trim().split('\n')[0]}`,
        {
          cause: error,
        },
      );
    }
  } else throw new SteplineError(ErrorName.ActionFailed, `${action.name} is an ECR source: on one machine it needs local.command to name the image`);
  const digest = DIGEST.exec(reference)?.[0];
  if (digest === undefined)
    throw new SteplineError(
      ErrorName.ActionFailed,
      `local.command of ${action.name} printed no image digest (sha256:<64 hex>): ${JSON.stringify(reference.slice(0, 200))}`,
    );
  // `host/path/repo@sha256:…`: the registry is the part before the first slash.
  const at = reference.lastIndexOf('@');
  const named = at > 0 ? reference.slice(0, at) : '';
  const registry = named.includes('/') ? (named.split('/')[0] ?? LOCAL_REGISTRY) : LOCAL_REGISTRY;
  const imageUri = `${registry}/${action.repository}@${digest}`;
  return {
    variables: { RegistryId: registry, RepositoryName: action.repository, ImageTag: tag, ImageDigest: digest, ImageURI: imageUri },
    imageDetail: { ImageDigest: digest, Version: '1.0', RegistryId: registry, RepositoryName: action.repository, ImageURI: imageUri, ImageTags: [tag] },
  };
}
