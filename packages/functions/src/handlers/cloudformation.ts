/**
 * The cloudformation function: target of a CloudFormation action's prepare and outputs Tasks
 * (`arn:aws:states:::lambda:invoke`, see `compileCloudFormation` and ../cloudformation/stack-files.ts).
 * The stack calls themselves are the state machine's SDK integrations; this function only reads and
 * writes artifacts. Its role reads the artifacts of pipelines with CloudFormation actions and writes
 * their output artifacts.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import { CloudFormationTaskSchema, prepareStackInput, writeOutputsFile } from '../cloudformation/stack-files';
import { actionTask, functionLogger, lazy } from '../runtime';

export interface CloudFormationDependencies {
  s3: () => S3Client;
  region: string;
  logger: Logger;
}

export function createCloudFormationHandler(deps: CloudFormationDependencies) {
  return async (event: unknown) => {
    const task = actionTask(CloudFormationTaskSchema, event, 'cloudformation task', deps.logger);
    if (task.operation === 'prepare') return prepareStackInput(deps.s3(), task, deps.region);
    return writeOutputsFile(deps.s3(), task);
  };
}

const logger = functionLogger('cloudformation');
export const handler = middy(createCloudFormationHandler({ s3: lazy(() => new S3Client({})), region: process.env.AWS_REGION ?? 'us-east-1', logger })).use(
  injectLambdaContext(logger, { resetKeys: true }),
);
