/**
 * Checks requests against planned IAM policies with `@cloud-copilot/iam-simulate` (AGPL-3.0: a test-only
 * devDependency, never bundled). It covers what moto_server does not model:
 *
 * - S3 answers a GetObject/HeadObject of a missing key with 403 unless the caller may `s3:ListBucket`
 *   the bucket: a read of a key that may be missing is checked for both.
 * - Step Functions' service integrations (the state machine role's calls).
 */

import { runSimulation } from '@cloud-copilot/iam-simulate';

export interface IamStatementLike {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
}

export interface IamRequest {
  /** Who asks, for the message: a function key, a project, a state machine. */
  principal: string;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
  /** A GetObject/HeadObject of a key that may not exist yet: `s3:ListBucket` on its prefix is required too. */
  mayBeMissing?: boolean;
}

export interface IamDenial {
  principal: string;
  action: string;
  resource: string;
  why: string;
}

const ACCOUNT = /^arn:aws:[^:]*:[^:]*:(\d{12}):/;

async function allowed(
  statements: readonly IamStatementLike[],
  action: string,
  resource: string,
  accountId: string,
  context: Record<string, string | string[]>,
) {
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${accountId}:role/stepline-rehearsal`,
        action,
        resource: { resource, accountId },
        contextVariables: context,
      },
      identityPolicies: [{ name: 'inline', policy: { Version: '2012-10-17', Statement: statements } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') return { ok: false, why: `the simulator refused the request: ${result.errors.message}` };
  if (result.resultType === 'single') return { ok: result.overallResult === 'Allowed', why: result.overallResult };
  return { ok: result.overallResult === 'Allowed', why: String(result.overallResult) };
}

/** The request as IAM would evaluate it with these statements; a denial names principal, action and resource. */
export async function checkRequest(statements: readonly IamStatementLike[], request: IamRequest, accountId = '123456789012'): Promise<IamDenial[]> {
  const account = ACCOUNT.exec(request.resource)?.[1] ?? accountId;
  const denials: IamDenial[] = [];
  const first = await allowed(statements, request.action, request.resource, account, request.context ?? {});
  if (!first.ok) denials.push({ principal: request.principal, action: request.action, resource: request.resource, why: first.why });
  const s3Object = /^arn:aws:s3:::([^/]+)\/(.*)$/.exec(request.resource);
  if (request.mayBeMissing && s3Object) {
    // S3's own check has no prefix to offer: only a grant on the bucket without condition is sure to count.
    const list = await allowed(statements, 's3:ListBucket', `arn:aws:s3:::${s3Object[1]}`, account, {});
    if (!list.ok)
      denials.push({
        principal: request.principal,
        action: `s3:ListBucket (without it S3 answers ${request.action} of a missing key with 403, not 404)`,
        resource: `arn:aws:s3:::${s3Object[1]} (reading ${s3Object[2]})`,
        why: list.why,
      });
  }
  return denials;
}

/** Every request checked; the message lists each denial as `principal: action on resource`. */
export async function checkRequests(statementsOf: (principal: string) => readonly IamStatementLike[], requests: readonly IamRequest[]): Promise<IamDenial[]> {
  const denials: IamDenial[] = [];
  const seen = new Set<string>();
  for (const request of requests) {
    const key = JSON.stringify(request);
    if (seen.has(key)) continue;
    seen.add(key);
    denials.push(...(await checkRequest(statementsOf(request.principal), request)));
  }
  return denials;
}

export const describeDenials = (denials: readonly IamDenial[]) => denials.map((d) => `${d.principal}: ${d.action} on ${d.resource} (${d.why})`).join('\n');
