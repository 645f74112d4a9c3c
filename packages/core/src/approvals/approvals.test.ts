import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  approvalIdFor,
  approvalNotification,
  approvalRecord,
  asciiSubject,
  decisionResult,
  isApproverAllowed,
  parseSlackInteraction,
  renderApprovalPage,
  signApprovalLink,
  slackApprovalMessage,
  verifyApprovalLink,
  verifySlackSignature,
} from './index';

const KEY = 'link-key';
const NOW = 1_800_000_000;
const id = approvalIdFor(KEY, 'task-token-1');

const record = approvalRecord(
  {
    taskToken: 'task-token-1',
    pipeline: 'web',
    stage: 'Prod',
    action: 'Approve',
    executionId: 'exec-1',
    source: { CommitId: 'abcdef1234567890', BranchName: 'main', FullRepositoryName: 'acme/web', CommitMessage: 'Ship <it>\nmore', ProviderType: 'GitHub' },
    timeoutSeconds: 3600,
    customData: 'Check <b>staging</b> & go',
  },
  id,
  new Date(NOW * 1000),
);

describe('approval links', () => {
  it('derive a stable, URL-safe approval id from the task token', () => {
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(approvalIdFor(KEY, 'task-token-1')).toBe(id);
    expect(approvalIdFor(KEY, 'task-token-2')).not.toBe(id);
    expect(approvalIdFor('other', 'task-token-1')).not.toBe(id);
  });

  it('round-trip, and refuse forged, tampered, malformed and expired tokens', () => {
    const claims = { approvalId: id, decision: 'approve' as const, expiresAt: NOW + 60 };
    const token = signApprovalLink(KEY, claims);
    expect(token).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(token).not.toContain('task-token');
    expect(verifyApprovalLink(KEY, token, NOW)).toStrictEqual({ ok: true, claims });
    expect(verifyApprovalLink('other-key', token, NOW)).toStrictEqual({ ok: false, reason: 'forged' });
    expect(verifyApprovalLink(KEY, token.replace('.a.', '.r.'), NOW)).toStrictEqual({ ok: false, reason: 'forged' });
    expect(verifyApprovalLink(KEY, token.replace(`.${NOW + 60}.`, `.${NOW + 6000}.`), NOW)).toStrictEqual({ ok: false, reason: 'forged' });
    expect(verifyApprovalLink(KEY, token, NOW + 60)).toStrictEqual({ ok: false, reason: 'expired' });
    expect(verifyApprovalLink('other-key', token, NOW + 60)).toStrictEqual({ ok: false, reason: 'forged' });
    expect(verifyApprovalLink(KEY, token.slice(0, -1), NOW)).toStrictEqual({ ok: false, reason: 'malformed' });
    expect(verifyApprovalLink(KEY, '', NOW)).toStrictEqual({ ok: false, reason: 'malformed' });
    expect(() => signApprovalLink('', claims)).toThrow(TypeError);
    expect(() => signApprovalLink(KEY, { ...claims, approvalId: 'short' })).toThrow(TypeError);
  });
});

describe('approvers', () => {
  it('lets anyone decide without an allowlist, and checks domains and Slack ids with one', () => {
    expect(isApproverAllowed(undefined, {})).toBe(true);
    expect(isApproverAllowed({ emailDomains: [] }, {})).toBe(true);
    const allow = { emailDomains: ['@Example.com'], slackUserIds: ['U123'] };
    expect(isApproverAllowed(allow, { email: 'ada@example.COM' })).toBe(true);
    expect(isApproverAllowed(allow, { email: 'ada@evil.example.com' })).toBe(false);
    expect(isApproverAllowed(allow, { email: 'example.com' })).toBe(false);
    expect(isApproverAllowed(allow, { slackUserId: 'U123' })).toBe(true);
    expect(isApproverAllowed(allow, { slackUserId: 'U999' })).toBe(false);
    expect(isApproverAllowed(allow, {})).toBe(false);
  });

  it('turn a decision into what the task token receives', () => {
    expect(decisionResult({ decision: 'approve', approvedBy: 'ada@example.com', comment: '', decidedAt: 't' })).toStrictEqual({
      type: 'success',
      output: { approvedBy: 'ada@example.com', comment: '', decidedAt: 't' },
    });
    expect(decisionResult({ decision: 'reject', approvedBy: 'bob', comment: 'not yet', decidedAt: 't' })).toStrictEqual({
      type: 'failure',
      error: 'Stepline.ApprovalRejected',
      cause: 'Rejected by bob: not yet',
    });
  });
});

describe('Slack', () => {
  const body = 'payload=%7B%7D';
  const sig = (secret: string, ts: number, b = body) => `v0=${createHmac('sha256', secret).update(`v0:${ts}:${b}`).digest('hex')}`;

  it('verifies the signing secret and a timestamp within five minutes', () => {
    expect(verifySlackSignature('sss', body, String(NOW), sig('sss', NOW), NOW + 300)).toBe(true);
    expect(verifySlackSignature('sss', body, String(NOW), sig('sss', NOW), NOW + 301)).toBe(false);
    expect(verifySlackSignature('sss', body, String(NOW), sig('xxx', NOW), NOW)).toBe(false);
    expect(verifySlackSignature('sss', `${body}x`, String(NOW), sig('sss', NOW), NOW)).toBe(false);
    expect(verifySlackSignature('sss', body, undefined, sig('sss', NOW), NOW)).toBe(false);
    expect(verifySlackSignature('sss', body, '1e9', sig('sss', NOW), NOW)).toBe(false);
  });

  it('reads a button click and keeps only Slack response URLs', () => {
    const payload = (url: string) =>
      `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: 'U1', username: 'ada' }, actions: [{ action_id: 'stepline_approve', value: 'tok' }], response_url: url }))}`;
    expect(parseSlackInteraction(payload('https://hooks.slack.com/actions/1'))).toStrictEqual({
      userId: 'U1',
      userName: 'ada',
      linkToken: 'tok',
      responseUrl: 'https://hooks.slack.com/actions/1',
    });
    expect(parseSlackInteraction(payload('http://169.254.169.254/'))?.responseUrl).toBeUndefined();
    expect(parseSlackInteraction('payload=not-json')).toBeUndefined();
    expect(parseSlackInteraction('token=x')).toBeUndefined();
  });

  it('builds a Block Kit message with escaped text and two buttons', () => {
    const message = slackApprovalMessage(record, { approveUrl: 'https://x/a', rejectUrl: 'https://x/r', approveToken: 'A', rejectToken: 'R' });
    const json = JSON.stringify(message);
    expect(json).toContain('Check &lt;b&gt;staging&lt;/b&gt; &amp; go');
    expect(json).toContain('<https://github.com/acme/web/commit/abcdef1234567890|abcdef123456>');
    expect(message.blocks.at(-1)).toStrictEqual({
      type: 'actions',
      block_id: 'stepline_approval',
      elements: [
        { type: 'button', action_id: 'stepline_approve', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: 'A' },
        { type: 'button', action_id: 'stepline_reject', style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: 'R' },
      ],
    });
    expect(json).not.toContain('task-token');
  });
});

describe('approval notification and pages', () => {
  it('puts links, custom data, the commit and the expiry in the SNS message, never the token', () => {
    const n = approvalNotification(record, { approveUrl: 'https://x/a', rejectUrl: 'https://x/r' }, 'eu-west-1');
    expect(n.subject).toBe('APPROVAL NEEDED: web / Prod / Approve');
    expect(n.text).toContain('Approve: https://x/a');
    expect(n.text).toContain('https://github.com/acme/web/commit/abcdef1234567890');
    expect(n.text).toContain(`expire at ${new Date((NOW + 3600) * 1000).toISOString()}`);
    expect(n.json).toMatchObject({ region: 'eu-west-1', approval: { pipelineName: 'web', customData: 'Check <b>staging</b> & go', rejectUrl: 'https://x/r' } });
    expect(JSON.stringify(n)).not.toContain('task-token');
    expect(asciiSubject(`é${'x'.repeat(200)}\n`)).toHaveLength(99);
  });

  it('escapes what it renders and gives every outcome a 4xx or 200', () => {
    const form = renderApprovalPage({ kind: 'form', approval: record, decision: 'approve', token: 't"><script>', postUrl: '/approval', emailRequired: true });
    expect(form.status).toBe(200);
    expect(form.html).toContain('Check &lt;b&gt;staging&lt;/b&gt; &amp; go');
    expect(form.html).toContain('value="t&quot;&gt;&lt;script&gt;"');
    expect(form.html).not.toContain('<script');
    expect(form.html).not.toContain('task-token');
    const statuses = (['malformed', 'forged', 'expired', 'unknown'] as const).map((kind) => renderApprovalPage({ kind }).status);
    expect(statuses).toStrictEqual([400, 403, 410, 404]);
    expect(renderApprovalPage({ kind: 'decided', approval: record, decided: { decision: 'reject', approvedBy: 'bob', decidedAt: 't' } }).status).toBe(409);
    expect(renderApprovalPage({ kind: 'closed', approval: record }).status).toBe(410);
    expect(renderApprovalPage({ kind: 'not-allowed', approval: record, reason: 'no' }).status).toBe(403);
  });
});
