/**
 * AWS SDK clients, each made on first use from a module loaded on first use. A cold start then pays
 * only for the clients its request needs: loading one SDK v3 client package costs more than importing
 * a whole stepline function, so a webhook ping never loads Step Functions, and a function whose secrets
 * live in SSM never loads Secrets Manager.
 */

import type { ECRClient } from '@aws-sdk/client-ecr';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient, SFNClientConfig } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { lazy } from './runtime';
import { SecretCache } from './secrets';

export const ecrClient = () => lazy(async (): Promise<ECRClient> => new (await import('@aws-sdk/client-ecr')).ECRClient({}));
export const s3Client = () => lazy(async (): Promise<S3Client> => new (await import('@aws-sdk/client-s3')).S3Client({}));
export const snsClient = () => lazy(async (): Promise<SNSClient> => new (await import('@aws-sdk/client-sns')).SNSClient({}));
export const sfnClient = (config: SFNClientConfig = {}) => lazy(async (): Promise<SFNClient> => new (await import('@aws-sdk/client-sfn')).SFNClient(config));

/** The secret cache of a function, reading Secrets Manager or SSM as each reference says. */
export function secretCache(ttlMs?: number): SecretCache {
  return new SecretCache({
    secretsManager: lazy(async (): Promise<SecretsManagerClient> => new (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient({})),
    ssm: lazy(async (): Promise<SSMClient> => new (await import('@aws-sdk/client-ssm')).SSMClient({})),
    ...(ttlMs !== undefined && { ttlMs }),
  });
}
