/**
 * The `<Stage> · roll back` Task's request to the conditions function (an automatic ROLLBACK, see
 * core's compiler/conditions.ts `compileRollback`): start the rollback of the failed execution on the
 * machine it runs, under the name core's `rollbackExecutionName` gives it, so that a retried Task finds
 * the rollback it started. Answers what the Task's ResultSelector reads.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { EnvVar, ErrorName, pipelineManifestKey, rollbackExecutionName, SteplineError, TriggerType } from '@stepline/core';
import * as z from 'zod';
import { MachineManifests } from '../executions/machine-manifests';
import { RollbackRefused, startRollback } from '../executions/rollback';
import { type Env, requiredEnv } from '../runtime';

export const RollbackRequestSchema = z.object({
  request: z.literal('rollback'),
  pipeline: z.string().min(1),
  stage: z.string().min(1),
  executionId: z.string().min(1),
  stateMachineArn: z
    .string({ error: 'expected the state machine ARN ($$.StateMachine.Id): a machine deployed before stepline rolled back on AWS lacks it, run sst deploy' })
    .startsWith('arn:', { error: 'expected the state machine ARN ($$.StateMachine.Id)' }),
});

export interface RollbackRequestDependencies {
  sfn: () => SFNClient;
  s3: () => S3Client;
  env: Env;
}

/** What the `roll back` Task's ResultSelector reads. */
export interface RollbackAnswer {
  rollbackExecution: string;
  targetExecution: string;
}

export async function handleRollbackRequest(event: unknown, deps: RollbackRequestDependencies): Promise<RollbackAnswer> {
  const parsed = RollbackRequestSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SteplineError(ErrorName.DefinitionInvalid, `not a rollback request: ${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`);
  }
  const request = parsed.data;
  const bucket = requiredEnv(deps.env, EnvVar.ArtifactBucket, 'the artifact bucket, where the pipeline manifests are');
  const location = { bucket, key: pipelineManifestKey(request.pipeline) };
  const manifest = await new MachineManifests(deps.sfn(), deps.s3()).read(location);
  if (!manifest)
    throw new SteplineError(ErrorName.Configuration, `no manifest of pipeline ${request.pipeline} at s3://${bucket}/${location.key}: run sst deploy`);
  try {
    const started = await startRollback({
      sfn: deps.sfn(),
      s3: deps.s3(),
      stateMachineArn: request.stateMachineArn,
      current: { manifest, location },
      stage: request.stage,
      name: rollbackExecutionName(request.executionId),
      failedExecution: request.executionId,
      trigger: { type: TriggerType.AutomatedRollback },
    });
    return { rollbackExecution: started.executionId, targetExecution: started.targetExecution };
  } catch (error) {
    if (error instanceof RollbackRefused) throw new SteplineError(ErrorName.ControlRefused, error.message, { cause: error });
    throw error;
  }
}
