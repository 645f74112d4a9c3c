/**
 * The code-deploy function: target of every codedeploy action's Tasks (`<Stage> · <Action>` starts the
 * in-place deployment, `· advance` follows it batch by batch; see `compileCodeDeploy` and
 * ../codedeploy/in-place.ts), and of the EventBridge rule on its pipelines' executions that ended
 * without success (ABORTED, TIMED_OUT, FAILED): their commands still running are cancelled, as the
 * ASL cannot run anything once an execution is stopped. Environment: ARTIFACT_BUCKET (the last good
 * revisions live under `_stepline/revisions/`), STATE_MACHINE_PREFIX (a status change's pipeline).
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
import { pipelineOf, StatusChangeEventSchema } from '../gates/events';
import { type Env, functionLogger, lazy, requiredEnv } from '../runtime';

export interface CodeDeployHandlerDependencies {
  clients: () => { s3: S3Client; ec2: EC2Client; ssm: SSMClient };
  env: Env;
  logger: Logger;
}

/** Executions that ended this way may have left a batch's command running on the instances. */
const ENDED_MID_DEPLOYMENT = new Set(['ABORTED', 'TIMED_OUT', 'FAILED']);

export type CodeDeployResult = InPlaceDeployment | { cancelled: string[] } | { ignored: string };

export function createCodeDeployHandler(deps: CodeDeployHandlerDependencies) {
  return async (event: unknown): Promise<CodeDeployResult> => {
    const change = StatusChangeEventSchema.safeParse(event);
    if (change.success) return cancelCommands(change.data.detail);
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

  /** A stopped (or timed-out, or failed) execution's commands still running on the instances are cancelled. */
  async function cancelCommands(detail: {
    name: string;
    stateMachineArn: string;
    status: string;
    input?: string | null | undefined;
  }): Promise<CodeDeployResult> {
    if (!ENDED_MID_DEPLOYMENT.has(detail.status)) return { ignored: `status ${detail.status} leaves commands as they are` };
    const pipeline = pipelineOf(detail, requiredEnv(deps.env, EnvVar.StateMachinePrefix, 'the state machines’ name prefix'));
    if (pipeline === undefined) return { ignored: `state machine ${detail.stateMachineArn} is not a stepline pipeline` };
    deps.logger.appendKeys({ pipeline, executionId: detail.name });
    const { ec2, ssm } = deps.clients();
    const cancelled = await new SsmFleet(ec2, ssm).cancel({ pipeline, executionId: detail.name });
    deps.logger.info('commands cancelled', { status: detail.status, cancelled });
    return { cancelled };
  }
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
