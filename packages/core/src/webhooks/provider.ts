/**
 * One git host's webhook, as `decideWebhook`, `stepline serve` and the webhook function see it: which
 * headers carry the event, the delivery id and the signature, how a delivery is authenticated, and
 * what an event means. GitHub, GitLab and Bitbucket each are one of these; nothing else differs.
 */
import { timingSafeEqual } from 'node:crypto';
import type { GitHost } from '../triggers/match';
import type { ParsedPayload } from './payload';

export type WebhookInterpretation = ParsedPayload | { kind: 'pong' };

export interface WebhookProvider {
  host: GitHost;
  /** The path segment it is served under: `/webhooks/<route>` on `stepline serve`. */
  route: string;
  /** Header names as the provider documents them (looked up without case). */
  eventHeader: string;
  /** Headers naming the delivery, the first present wins; the same on every redelivery of one event. */
  deliveryHeaders: readonly string[];
  signatureHeader: string;
  /** Whether the delivery is authentic; never throws. `body` is the raw body, exactly as received. */
  verify(secret: string, body: string, signature: string | undefined): Promise<boolean>;
  /** What an event means. @throws WebhookPayloadError when the payload is not what the event says */
  interpret(event: string, payload: unknown, changedFiles?: readonly string[]): WebhookInterpretation;
}

export interface WebhookHeaders {
  event: string | undefined;
  deliveryId: string | undefined;
  signature: string | undefined;
}

/** The provider's headers from a request, `header` being a lookup by lower-case name (as Node and Lambda give them). */
export function readWebhookHeaders(provider: WebhookProvider, header: (name: string) => string | undefined): WebhookHeaders {
  const get = (name: string) => header(name.toLowerCase());
  const deliveryId = provider.deliveryHeaders.map(get).find((v) => v !== undefined && v.trim() !== '');
  return { event: get(provider.eventHeader), deliveryId, signature: get(provider.signatureHeader) };
}

/** Compares two strings in time that depends only on their lengths, so a secret token is not guessed byte by byte. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
