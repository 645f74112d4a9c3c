export { type GitEvent, matchTriggers, PullRequestAction, passesFilterCriteria, type TriggerMatch } from './match';
