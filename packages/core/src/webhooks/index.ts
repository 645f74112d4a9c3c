import { gitHubWebhook } from '../github/provider';
import { bitbucketWebhook } from './bitbucket';
import { gitLabWebhook } from './gitlab';
import type { WebhookProvider } from './provider';

export { BitbucketEvent, bitbucketWebhook } from './bitbucket';
export { type DecideWebhookArgs, decideWebhook, type WebhookDecision, type WebhookStart } from './decide';
export { GitLabEvent, gitLabWebhook } from './gitlab';
export { type ParsedGitEvent, type ParsedPayload, WebhookPayloadError } from './payload';
export { readWebhookHeaders, type WebhookHeaders, type WebhookInterpretation, type WebhookProvider } from './provider';

/** Every git host whose webhooks start pipelines, by route (`/webhooks/<route>`). */
export const WEBHOOK_PROVIDERS: readonly WebhookProvider[] = [gitHubWebhook, gitLabWebhook, bitbucketWebhook];
