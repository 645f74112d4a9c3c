import { type ApprovalLinks, type ApprovalRecord, approvalLinks as signedLinks } from '@stepline/core';

/** `<PUBLIC_URL>?token=<signed link>`: the approval response function's URL with one decision's token. */
export function approvalUrl(publicUrl: string, token: string): string {
  const url = new URL(publicUrl);
  url.searchParams.set('token', token);
  return url.toString();
}

/** The approve and reject links of an approval, expiring with it. */
export function approvalLinks(key: string, record: Pick<ApprovalRecord, 'approvalId' | 'expiresAt'>, publicUrl: string): ApprovalLinks {
  return signedLinks(key, record, (token) => approvalUrl(publicUrl, token));
}
