export { type ApprovalFormOptions, type ApprovalFormResult, MAX_APPROVAL_COMMENT, MAX_APPROVER_EMAIL, readApprovalForm } from './form';
export {
  ApprovalDecision,
  type ApprovalLinkClaims,
  type ApprovalLinks,
  type ApprovalLinkVerification,
  approvalIdFor,
  approvalLinks,
  signApprovalLink,
  verifyApprovalLink,
} from './links';
export { type ApprovalNotification, approvalNotification, asciiSubject } from './notification';
export { APPROVAL_PAGE_HEADERS, type ApprovalPage, type ApprovalView, type RenderedPage, renderApprovalPage } from './pages';
export {
  type ApprovalCommit,
  type ApprovalDecisionOutput,
  type ApprovalDecisionRecord,
  ApprovalDecisionRecordSchema,
  type ApprovalRecord,
  ApprovalRecordSchema,
  type ApprovalRequest,
  ApprovalRequestSchema,
  type ApproverAllowlist,
  approvalRecord,
  commitUrl,
  decisionResult,
  isApproverAllowed,
} from './request';
export {
  escapeSlack,
  parseSlackInteraction,
  SLACK_MAX_AGE_SECONDS,
  SlackActionId,
  type SlackInteraction,
  type SlackMessage,
  slackApprovalMessage,
  slackDecisionMessage,
  verifySlackSignature,
} from './slack';
