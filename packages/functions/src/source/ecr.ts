/**
 * An ECR source: the image a source action names (its repository and tag, or the digest the push event
 * carried), as CodePipeline's ECR source action gives it: the variables RegistryId, RepositoryName,
 * ImageTag, ImageDigest, ImageURI, and `imageDetail.json` in the output artifact (the file CodeDeploy's
 * ECS action and builds read the image from).
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECR.html
 */
import type { ECRClient } from '@aws-sdk/client-ecr';
import { type EcrSourceVariables, ErrorName, SteplineError } from '@stepline/core';

export interface EcrImageRequest {
  repository: string;
  imageTag: string;
  /** From the push event: that very image, even if the tag has moved since. */
  imageDigest?: string;
  region: string;
}

export interface EcrImage {
  variables: EcrSourceVariables;
  /** The output artifact's `imageDetail.json`. */
  imageDetail: Record<string, unknown>;
}

/** ECR's errors that say the image is not there (final), as opposed to throttling (the Task retries). */
const NOT_THERE = new Set(['ImageNotFoundException', 'RepositoryNotFoundException']);

export async function resolveEcrImage(ecr: ECRClient, request: EcrImageRequest): Promise<EcrImage> {
  const { DescribeImagesCommand } = await import('@aws-sdk/client-ecr');
  const imageId = request.imageDigest !== undefined ? { imageDigest: request.imageDigest } : { imageTag: request.imageTag };
  const which = request.imageDigest ?? `tag ${request.imageTag}`;
  let found:
    | { registryId?: string; repositoryName?: string; imageDigest?: string; imageTags?: string[]; imagePushedAt?: Date; imageSizeInBytes?: number }
    | undefined;
  try {
    const out = await ecr.send(new DescribeImagesCommand({ repositoryName: request.repository, imageIds: [imageId] }));
    found = out.imageDetails?.[0];
  } catch (error) {
    const name = (error as Error).name;
    if (NOT_THERE.has(name))
      throw new SteplineError(ErrorName.ActionFailed, `ECR has no image ${which} in repository ${request.repository} (${name})`, { cause: error });
    if (name === 'ThrottlingException' || ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0) >= 500)
      throw new SteplineError(ErrorName.Transient, `ECR stayed unavailable describing ${request.repository}`, { cause: error });
    throw error;
  }
  if (!found?.imageDigest || !found.registryId)
    throw new SteplineError(ErrorName.ActionFailed, `ECR has no image ${which} in repository ${request.repository}`);
  const repositoryName = found.repositoryName ?? request.repository;
  const imageTag =
    request.imageDigest !== undefined ? (found.imageTags?.includes(request.imageTag) ? request.imageTag : (found.imageTags?.[0] ?? '')) : request.imageTag;
  const imageUri = `${found.registryId}.dkr.ecr.${request.region}.amazonaws.com/${repositoryName}@${found.imageDigest}`;
  return {
    variables: { RegistryId: found.registryId, RepositoryName: repositoryName, ImageTag: imageTag, ImageDigest: found.imageDigest, ImageURI: imageUri },
    imageDetail: {
      ImageSizeInBytes: String(found.imageSizeInBytes ?? ''),
      ImageDigest: found.imageDigest,
      Version: '1.0',
      ImagePushedAt: found.imagePushedAt?.toUTCString() ?? '',
      RegistryId: found.registryId,
      RepositoryName: repositoryName,
      ImageURI: imageUri,
      ImageTags: found.imageTags ?? [],
    },
  };
}
