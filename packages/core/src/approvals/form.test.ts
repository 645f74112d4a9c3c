import { describe, expect, it } from 'vitest';
import { MAX_APPROVAL_COMMENT, readApprovalForm } from './form';

const form = (fields: Record<string, string>) => new URLSearchParams(fields);

describe('readApprovalForm', () => {
  it('reads the e-mail and comment, trimmed; an empty e-mail is no e-mail', () => {
    expect(readApprovalForm(form({ email: ' ana@example.com ', comment: ' ship it ' }), { emailRequired: true })).toStrictEqual({
      ok: true,
      email: 'ana@example.com',
      comment: 'ship it',
    });
    expect(readApprovalForm(form({ email: '', comment: '' }), { emailRequired: false })).toStrictEqual({ ok: true, comment: '' });
  });

  it('refuses what is not an address, a missing address where one is required, and a comment too long (never cut)', () => {
    expect(readApprovalForm(form({ email: 'ana' }), { emailRequired: false })).toStrictEqual({ ok: false, error: 'That is not an e-mail address.' });
    expect(readApprovalForm(form({ email: `${'a'.repeat(250)}@x.io` }), { emailRequired: false }).ok).toBe(false);
    expect(readApprovalForm(form({}), { emailRequired: true })).toStrictEqual({
      ok: false,
      error: 'Enter your e-mail address: only some approvers may decide.',
    });
    expect(readApprovalForm(form({ comment: 'x'.repeat(MAX_APPROVAL_COMMENT + 1) }), { emailRequired: false })).toStrictEqual({
      ok: false,
      error: `Keep the comment under ${MAX_APPROVAL_COMMENT} characters.`,
    });
    expect(readApprovalForm(form({ comment: 'x'.repeat(MAX_APPROVAL_COMMENT) }), { emailRequired: false }).ok).toBe(true);
  });
});
