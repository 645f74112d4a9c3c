import { type ApprovalLinks, type ApprovalRecord, signApprovalLink } from '@stepline/core';

/** `<PUBLIC_URL>?token=<signed link>`: the approval response function's URL with one decision's token. */
export function approvalUrl(publicUrl: string, token: string): string {
  const url = new URL(publicUrl);
  url.searchParams.set('token', token);
  return url.toString();
}

/** The approve and reject links of an approval, expiring with it. */
export function approvalLinks(key: string, record: Pick<ApprovalRecord, 'approvalId' | 'expiresAt'>, publicUrl: string): ApprovalLinks {
  const approveToken = signApprovalLink(key, { approvalId: record.approvalId, decision: 'approve', expiresAt: record.expiresAt });
  const rejectToken = signApprovalLink(key, { approvalId: record.approvalId, decision: 'reject', expiresAt: record.expiresAt });
  return { approveToken, rejectToken, approveUrl: approvalUrl(publicUrl, approveToken), rejectUrl: approvalUrl(publicUrl, rejectToken) };
}
