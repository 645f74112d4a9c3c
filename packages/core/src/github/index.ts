export { parsePullRequestPayload, parsePushPayload } from './events';
export { decideGitHubWebhook, GitHubEvent, gitHubWebhook } from './provider';
export { verifyGitHubSignature } from './signature';
