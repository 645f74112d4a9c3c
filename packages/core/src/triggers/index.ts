export { type EcrPushRule, ecrPushRules } from './ecr-push';
export { type GitEvent, GitHost, gitHostOf, matchTriggers, PullRequestAction, passesFilterCriteria, type TriggerMatch } from './match';
