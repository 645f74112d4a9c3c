export { type DecideGitHubWebhookArgs, decideGitHubWebhook, GitHubEvent, type WebhookDecision, type WebhookStart } from './decide';
export { type ParsedGitEvent, type ParsedPayload, parsePullRequestPayload, parsePushPayload, WebhookPayloadError } from './events';
export { verifyGitHubSignature } from './signature';
