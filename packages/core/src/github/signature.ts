/**
 * GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
 * @see https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
 */
import { verify } from '@octokit/webhooks-methods';

const SIGNATURE = /^sha256=[0-9a-f]{64}$/;

/**
 * Whether `signatureHeader` is the body's signature under `secret`, compared in constant time. The body
 * must be the raw request body, exactly as received. Never throws: a missing or malformed header, an
 * empty secret or an empty body is simply not a valid signature.
 */
export async function verifyGitHubSignature(secret: string, body: string, signatureHeader: string | undefined): Promise<boolean> {
  if (!secret || !body || signatureHeader === undefined || !SIGNATURE.test(signatureHeader)) return false;
  try {
    return await verify(secret, body, signatureHeader);
  } catch {
    return false;
  }
}
