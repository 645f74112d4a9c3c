/**
 * Approval links: an approve link and a reject link per approval, each an HMAC-signed token that names
 * the approval, the decision and when it expires. The task token never leaves the server: the link
 * carries an approval id, and the server looks the token up. A link decides at most once, because the
 * server records the first decision of an approval with a create-only write.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const ApprovalDecision = { Approve: 'approve', Reject: 'reject' } as const;
export type ApprovalDecision = (typeof ApprovalDecision)[keyof typeof ApprovalDecision];

export interface ApprovalLinkClaims {
  /** URL-safe, 16 to 64 characters of `A-Z a-z 0-9 _ -`. */
  approvalId: string;
  decision: ApprovalDecision;
  /** Epoch seconds; the link is refused from this second on. */
  expiresAt: number;
}

/** One approval's two links, each a URL an approver opens and the signed token it carries. */
export interface ApprovalLinks {
  approveUrl: string;
  rejectUrl: string;
  approveToken: string;
  rejectToken: string;
}

/**
 * The approve and reject links of an approval, expiring with it; `urlFor` puts a token where the
 * runtime serves it (a query parameter of the Lambda's URL, a path on the local server).
 */
export function approvalLinks(key: string, approval: { approvalId: string; expiresAt: number }, urlFor: (token: string) => string): ApprovalLinks {
  const token = (decision: ApprovalDecision) => signApprovalLink(key, { approvalId: approval.approvalId, decision, expiresAt: approval.expiresAt });
  const approveToken = token(ApprovalDecision.Approve);
  const rejectToken = token(ApprovalDecision.Reject);
  return { approveToken, rejectToken, approveUrl: urlFor(approveToken), rejectUrl: urlFor(rejectToken) };
}

export type ApprovalLinkVerification = { ok: true; claims: ApprovalLinkClaims } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

const APPROVAL_ID = /^[A-Za-z0-9_-]{16,64}$/;
const TOKEN = /^([A-Za-z0-9_-]{16,64})\.([ar])\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;
/** Tokens are short; anything longer is refused before any work. */
const MAX_TOKEN_LENGTH = 160;

const mac = (key: string, purpose: string, text: string) => createHmac('sha256', key).update(`stepline:${purpose}:v1\n${text}`).digest('base64url');

function linkSignature(key: string, claims: ApprovalLinkClaims): string {
  return mac(key, 'approval-link', `${claims.approvalId}\n${claims.decision}\n${claims.expiresAt}`);
}

/**
 * A URL-safe token for one decision on one approval: `<approvalId>.<a|r>.<expiresAt>.<signature>`.
 * @throws TypeError when the key is empty or the claims are not well-formed (a programming error)
 */
export function signApprovalLink(key: string, claims: ApprovalLinkClaims): string {
  if (!key) throw new TypeError('approval link key is empty');
  if (!APPROVAL_ID.test(claims.approvalId)) throw new TypeError('approval id must be 16 to 64 URL-safe characters');
  if (!Number.isInteger(claims.expiresAt) || claims.expiresAt < 0 || claims.expiresAt > 999_999_999_999) throw new TypeError('expiresAt must be epoch seconds');
  const d = claims.decision === ApprovalDecision.Approve ? 'a' : 'r';
  return `${claims.approvalId}.${d}.${claims.expiresAt}.${linkSignature(key, claims)}`;
}

/**
 * Checks a link token: its shape, then its signature (in constant time), then its expiry. A token that
 * is both forged and expired is `forged`, so expiry says nothing about a token nobody signed.
 */
export function verifyApprovalLink(key: string, token: string, nowSeconds: number): ApprovalLinkVerification {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const m = TOKEN.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const [, approvalId = '', d, expires = '', signature = ''] = m;
  const claims: ApprovalLinkClaims = { approvalId, decision: d === 'a' ? ApprovalDecision.Approve : ApprovalDecision.Reject, expiresAt: Number(expires) };
  if (!key) return { ok: false, reason: 'forged' };
  const expected = Buffer.from(linkSignature(key, claims));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'forged' };
  if (nowSeconds >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/**
 * The id an approval is stored under, derived from its task token with the link key: unguessable
 * without the key, and the same on every retry of the approval Task (Step Functions retries reuse the
 * token), so a retried request finds the record it already wrote instead of making a second approval.
 */
export function approvalIdFor(key: string, taskToken: string): string {
  if (!key) throw new TypeError('approval link key is empty');
  return mac(key, 'approval-id', taskToken).slice(0, 32);
}
