/** The installation plan tests use: stage `team` in eu-west-1, account 123456789012, with the secrets every installation has. */
import type { Pipeline } from '@stepline/core';
import { planInstallation } from './plan';

export const TEST_REGION = 'eu-west-1';
export const TEST_ACCOUNT = '123456789012';

export const planFor = (pipelines: Pipeline[]) =>
  planInstallation({ stage: 'team', region: TEST_REGION, accountId: TEST_ACCOUNT, pipelines, secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']) });
