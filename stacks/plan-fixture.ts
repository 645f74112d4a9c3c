/** The installation plan tests use: stage `team` in account 123456789012, with the secrets every installation has. */
import type { Pipeline } from '@stepline/core';
import { planInstallation } from './plan';

export const TEST_REGION = 'eu-west-1';
export const TEST_ACCOUNT = '123456789012';

const planIn = (region: string, pipelines: Pipeline[]) =>
  planInstallation({ stage: 'team', region, accountId: TEST_ACCOUNT, pipelines, secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']) });

/** In eu-west-1. */
export const planFor = (pipelines: Pipeline[]) => planIn(TEST_REGION, pipelines);

/** In moto_server's region (us-east-1), for tests that install it there. */
export const planForMoto = (pipelines: Pipeline[]) => planIn('us-east-1', pipelines);
