/**
 * The s3-deploy function: target of every s3deploy action's Task (`arn:aws:states:::lambda:invoke`,
 * see `compileS3Deploy` and ../s3deploy/deploy.ts). Its role reads the artifact bucket and writes the
 * buckets the actions name (and uses their KMS keys).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import { actionTask, functionLogger, lazy } from '../runtime';
import { deployToS3, type S3DeployResult, S3DeployTaskSchema } from '../s3deploy/deploy';

export interface S3DeployDependencies {
  s3: () => S3Client;
  logger: Logger;
}

export function createS3DeployHandler(deps: S3DeployDependencies) {
  return async (event: unknown): Promise<S3DeployResult> => {
    const task = actionTask(S3DeployTaskSchema, event, 's3deploy task', deps.logger);
    const result = await deployToS3(deps.s3(), task);
    deps.logger.info('deployed', { bucket: result.bucket, objects: result.keys.length });
    return result;
  };
}

const logger = functionLogger('s3-deploy');
export const handler = middy(createS3DeployHandler({ s3: lazy(() => new S3Client({})), logger })).use(injectLambdaContext(logger, { resetKeys: true }));
