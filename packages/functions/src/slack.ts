/**
 * Slack through HTTP: messages to an incoming webhook URL (kept in Secrets Manager: it is a credential)
 * and replies to an interaction's `response_url`. `fetch` is passed in so tests can fake Slack.
 * @see https://api.slack.com/messaging/webhooks
 * @see https://api.slack.com/interactivity/handling#message_responses
 */
import { ErrorName, type SlackMessage, SteplineError, type SteplineErrorOptions } from '@stepline/core';

export type Fetch = typeof fetch;

/** Slack refused or could not be reached: transient when a later call may pass, else the webhook URL is wrong. */
export class SlackError extends SteplineError {
  constructor(message: string, retryable: boolean, options?: SteplineErrorOptions) {
    super(retryable ? ErrorName.Transient : ErrorName.Configuration, message, options);
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
