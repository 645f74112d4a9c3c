/**
 * The code-deploy function: target of every codedeploy action's Tasks (`<Stage> · <Action>` starts the
 * in-place deployment, `· advance` follows it batch by batch; see `compileCodeDeploy` and
 * ../codedeploy/in-place.ts). Environment: ARTIFACT_BUCKET (the last good revisions live under
 * `_stepline/revisions/`).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { DefinitionError, EnvVar, type InPlaceDeployment } from '@stepline/core';
import { CodeDeployTaskSchema, runCodeDeployTask } from '../codedeploy/in-place';
import { SsmFleet } from '../codedeploy/ssm-fleet';
import { type Env, functionLogger, lazy, requiredEnv } from '../runtime';

export interface CodeDeployHandlerDependencies {
  clients: () => { s3: S3Client; ec2: EC2Client; ssm: SSMClient };
  env: Env;
  logger: Logger;
}

export function createCodeDeployHandler(deps: CodeDeployHandlerDependencies) {
  return async (event: unknown): Promise<InPlaceDeployment> => {
    const parsed = CodeDeployTaskSchema.safeParse(event);
    if (!parsed.success)
      throw new DefinitionError(
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        'codedeploy task',
      );
    const task = parsed.data;
    deps.logger.appendKeys({ pipeline: task.pipeline, stage: task.stage, action: task.action, executionId: task.executionId, operation: task.operation });
    const { s3, ec2, ssm } = deps.clients();
    return runCodeDeployTask(task, {
      s3,
      fleet: new SsmFleet(ec2, ssm),
      bucket: requiredEnv(deps.env, EnvVar.ArtifactBucket, 'the artifact bucket'),
      log: (message, fields) => deps.logger.info(message, fields ?? {}),
    });
  };
}

const logger = functionLogger('code-deploy');
const clients = lazy(() => ({ s3: new S3Client({}), ec2: new EC2Client({}), ssm: new SSMClient({}) }));
export const handler = middy(createCodeDeployHandler({ clients, env: process.env, logger }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use({
    onError: async (request) => {
      logger.error('codedeploy operation failed', request.error ?? 'unknown error');
    },
  });
