/** What both approval functions (the request and the response) are built from, read once from their environment. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { EnvVar } from '@stepline/core';
import { s3Client, secretCache } from '../aws';
import { type Env, functionLogger, lazy, optionalEnv, requiredEnv } from '../runtime';
import type { SecretSource } from '../secrets';
import type { Fetch } from '../slack';
import { type ApprovalStore, S3ApprovalStore } from './store';

export interface ApprovalFunctionDependencies {
  env: Env;
  store: () => ApprovalStore;
  secrets: SecretSource;
  fetch: Fetch;
  now: () => Date;
  logger: Logger;
}

/** Approvals are kept in `APPROVAL_BUCKET`, or else in the artifact bucket. */
export function approvalFunctionDependencies(env: Env, functionName: string): ApprovalFunctionDependencies {
  const s3 = s3Client();
  const bucket = () => optionalEnv(env, EnvVar.ApprovalBucket) ?? requiredEnv(env, EnvVar.ArtifactBucket, 'the bucket approvals are kept in');
  return {
    env,
    store: lazy(() => new S3ApprovalStore({ s3, bucket: bucket() })),
    secrets: secretCache(),
    fetch: (...args) => fetch(...args),
    now: () => new Date(),
    logger: functionLogger(functionName),
  };
}
