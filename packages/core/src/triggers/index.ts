export { type GitEvent, GitHost, gitHostOf, matchTriggers, PullRequestAction, passesFilterCriteria, type TriggerMatch } from './match';
