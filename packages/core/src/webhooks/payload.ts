/**
 * What every git host's webhook parser shares: the error a malformed delivery raises, zod parsing that
 * names the field at fault, and the result a parser hands to `decideWebhook`.
 */
import * as z from 'zod';
import type { SourceRevision } from '../execution/input';
import type { GitEvent } from '../triggers/match';

/** A payload that is not what its event header says: the caller answers 400. */
export class WebhookPayloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookPayloadError';
  }
}

/** What one push or pull/merge request event means to stepline: the event to match, and the revision to build. */
export interface ParsedGitEvent {
  event: GitEvent;
  revision: SourceRevision;
  actor: string | undefined;
}

export type ParsedPayload = { kind: 'event'; parsed: ParsedGitEvent } | { kind: 'ignored'; reason: string };

/** Parses `payload` with `schema`; a mismatch is a WebhookPayloadError naming the first field at fault. */
export function parsePayload<T>(schema: z.ZodType<T>, payload: unknown, event: string): T {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'payload';
  throw new WebhookPayloadError(`not a ${event} payload: ${where}: ${issue?.message ?? 'invalid'}`);
}

/** A commit as GitHub's and GitLab's push payloads list it (the same fields, for what stepline reads). */
export const PushedCommit = z.object({
  id: z.string().min(1),
  message: z.string().optional(),
  timestamp: z.string().optional(),
  author: z.object({ name: z.string().optional(), username: z.string().optional() }).optional(),
  added: z.array(z.string()).optional(),
  modified: z.array(z.string()).optional(),
  removed: z.array(z.string()).optional(),
});

/** Every file the commits of a push added, modified or removed. */
export function filesOfCommits(commits: readonly z.infer<typeof PushedCommit>[]): string[] {
  const files = new Set<string>();
  for (const c of commits) for (const f of [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])]) files.add(f);
  return [...files];
}

/** `refs/heads/x` → branch x, `refs/tags/v1` → tag v1; anything else is neither. */
export function splitRef(ref: string): { branch?: string; tag?: string } {
  if (ref.startsWith('refs/heads/')) return { branch: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { tag: ref.slice('refs/tags/'.length) };
  return {};
}
