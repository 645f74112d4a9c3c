/**
 * Slack through HTTP: messages to an incoming webhook URL (kept in Secrets Manager: it is a credential)
 * and replies to an interaction's `response_url`. `fetch` is passed in so tests can fake Slack.
 * @see https://api.slack.com/messaging/webhooks
 * @see https://api.slack.com/interactivity/handling#message_responses
 */
import type { SlackMessage } from '@stepline/core';

export type Fetch = typeof fetch;

export class SlackError extends Error {
  override readonly name = 'SlackError';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.retryable = retryable;
  }
}

/** Posts a message; Slack answers 200 `ok`, or 4xx (a bad or revoked URL, not retried) or 5xx/429. */
export async function postToSlack(fetcher: Fetch, url: string, message: SlackMessage | Record<string, unknown>, timeoutMs = 3000): Promise<void> {
  let response: Response;
  try {
    response = await fetcher(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new SlackError('Slack could not be reached', true, { cause: error });
  }
  if (!response.ok) {
    // The URL is a credential: never put it in the message.
    throw new SlackError(`Slack answered ${response.status}`, response.status === 429 || response.status >= 500);
  }
}
