import type { S3DeployAction } from '../../model/schema';
import type { ActionContext } from '../context';
import { FUNCTION_TRANSIENT_ERRORS, retryTransient } from '../integrations';
import type { JsonObject } from '../states';
import { actionIdentity, addFunctionActionState, artifactLocationExpression, grantInvoke } from './common';

/** An S3 deploy copies every file once, verified: a large site takes minutes, never an hour. */
const S3_DEPLOY_MINUTES = 15;

/**
 * An S3 deploy action is one Task: the installation's s3-deploy function reads the input artifact
 * (each file checked against its manifest) and writes it into the bucket, file by file or as one zip.
 * A Lambda rather than a Map of `s3:copyObject` SDK calls: the copy must check each file's SHA-256,
 * the zip form needs compute, and a Map costs three state transitions per file (a 2,000-file site:
 * about 6,000 transitions, $0.15 a deploy, and a manifest past the 256 KiB state limit) where the
 * function costs one transition and a few seconds of Lambda.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3Deploy.html
 */
export function compileS3Deploy(ctx: ActionContext, action: S3DeployAction): void {
  if (action.bucket === undefined && ctx.options.target === 'aws') {
    ctx.warnings.push({
      path: `${ctx.position.path}.bucket`,
      message: 'an s3deploy action needs a bucket to run on AWS (local.directory serves only one machine)',
    });
  }
  const artifact = action.inputArtifacts[0] ?? '';
  const fn = ctx.options.functions.s3Deploy;
  grantInvoke(ctx, fn);
  const payload: JsonObject = {
    ...actionIdentity(ctx),
    operation: 's3deploy',
    artifact: { name: artifact, 'location.$': artifactLocationExpression(ctx, artifact) },
    extract: action.extract,
  };
  if (action.bucket !== undefined) payload.bucket = action.bucket;
  if (action.objectKey !== undefined) ctx.refs.assign(payload, 'objectKey', action.objectKey);
  if (action.kmsEncryptionKeyArn !== undefined) payload.kmsEncryptionKeyArn = action.kmsEncryptionKeyArn;
  if (action.cannedAcl !== undefined) payload.cannedAcl = action.cannedAcl;
  if (action.cacheControl !== undefined) payload.cacheControl = action.cacheControl;

  addFunctionActionState(ctx, fn, payload, {
    timeoutSeconds: (action.timeoutMinutes ?? S3_DEPLOY_MINUTES) * 60,
    retry: retryTransient(FUNCTION_TRANSIENT_ERRORS),
  });
}
