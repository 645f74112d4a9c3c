/**
 * The approval form's rules, one set for both runtimes (the local link server and the approval
 * response Lambda): what an approver may submit, and what is refused with the form shown again.
 * The page's own limits (`maxlength`) say the same; a browser is not trusted to enforce them.
 */

/** The longest comment kept; a longer one is refused, never cut. */
export const MAX_APPROVAL_COMMENT = 1000;
/** The longest e-mail address (RFC 5321's path limit). */
export const MAX_APPROVER_EMAIL = 254;
const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

export interface ApprovalFormOptions {
  /** The approval names e-mail domains: only an approver who gives an address may decide. */
  emailRequired: boolean;
}

export type ApprovalFormResult = { ok: true; email?: string; comment: string } | { ok: false; error: string };

/** Reads a submitted approval form (`email`, `comment`), trimmed; an error says what to correct. */
export function readApprovalForm(fields: URLSearchParams, options: ApprovalFormOptions): ApprovalFormResult {
  const email = (fields.get('email') ?? '').trim();
  const comment = (fields.get('comment') ?? '').trim();
  if (email !== '' && (email.length > MAX_APPROVER_EMAIL || !EMAIL.test(email))) return { ok: false, error: 'That is not an e-mail address.' };
  if (email === '' && options.emailRequired) return { ok: false, error: 'Enter your e-mail address: only some approvers may decide.' };
  if (comment.length > MAX_APPROVAL_COMMENT) return { ok: false, error: `Keep the comment under ${MAX_APPROVAL_COMMENT} characters.` };
  return { ok: true, ...(email !== '' && { email }), comment };
}
