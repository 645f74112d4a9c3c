export { ApprovalDecision, type ApprovalLinkClaims, type ApprovalLinkVerification, approvalIdFor, signApprovalLink, verifyApprovalLink } from './links';
export { type ApprovalNotification, approvalNotification, asciiSubject } from './notification';
export { APPROVAL_PAGE_HEADERS, type ApprovalPage, type ApprovalView, esc as escapeHtml, type RenderedPage, renderApprovalPage } from './pages';
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
  type ApprovalLinks,
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
