/**
 * Region and credentials for `--target aws`, from the usual places (flags, AWS_REGION / AWS_PROFILE and
 * the other AWS_* variables, ~/.aws/config and ~/.aws/credentials, SSO, instance roles), resolved once
 * before any verb runs, so that "no region" or "no credentials" is one line saying what to do, never
 * a stack trace from the middle of a call.
 * @see https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { UsageError } from '../errors';

export interface AwsTargetOptions {
  /** `--region`; otherwise AWS_REGION, AWS_DEFAULT_REGION or the profile's region. */
  region?: string;
  /** `--profile`; otherwise AWS_PROFILE or `default`. */
  profile?: string;
}

export interface AwsEnvironment {
  region: string;
  /** The profile in use, when one was named. */
  profile?: string;
  credentials: AwsCredentialIdentityProvider;
}

/** What tells the SDK where to go and who is asking; given to every client the backend makes. */
export function clientConfig(environment: AwsEnvironment) {
  return { region: environment.region, credentials: environment.credentials };
}

const REGION_HELP = 'pass --region, set AWS_REGION, or set a region for the profile in ~/.aws/config';
const CREDENTIALS_HELP = 'run `aws configure` (or `aws sso login`), set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';

/**
 * Resolves region and credentials as the AWS CLI would; throws a one-line `UsageError` naming what is
 * missing. Credentials are fetched once here and kept (refreshed by the SDK when they expire).
 */
export async function resolveAwsEnvironment(options: AwsTargetOptions = {}): Promise<AwsEnvironment> {
  const probe = new SFNClient({
    ...(options.region !== undefined && { region: options.region }),
    ...(options.profile !== undefined && { profile: options.profile }),
  });
  const profile = options.profile ?? process.env.AWS_PROFILE;
  const which = profile ? ` (profile ${profile})` : '';
  let region: string;
  try {
    region = await probe.config.region();
  } catch (error) {
    throw new UsageError(`--target aws: no AWS region${which}: ${REGION_HELP}`, { cause: error });
  }
  if (!region) throw new UsageError(`--target aws: no AWS region${which}: ${REGION_HELP}`);

  try {
    await probe.config.credentials();
  } catch (error) {
    throw new UsageError(`--target aws: ${credentialsProblem(error, profile)}`, { cause: error });
  } finally {
    probe.destroy();
  }
  // The client's provider is memoized: what was just resolved is reused, and refreshed before it expires.
  return { region, ...(profile !== undefined && { profile }), credentials: probe.config.credentials };
}

function credentialsProblem(error: unknown, profile: string | undefined): string {
  const message = oneLine(error instanceof Error ? error.message : String(error));
  const which = profile ? ` (profile ${profile})` : '';
  if (/could not load credentials from any providers/i.test(message) || message === '') return `no AWS credentials found${which}: ${CREDENTIALS_HELP}`;
  if (/profile .* could not be found/i.test(message)) return `${message}: ${CREDENTIALS_HELP}`;
  if (/sso|token.*expired|expired.*token/i.test(message))
    return `AWS credentials${which} are not usable (${message}): run \`aws sso login${profile ? ` --profile ${profile}` : ''}\``;
  return `AWS credentials${which} could not be loaded: ${message}`;
}

/** Errors AWS answers when the credentials themselves are the problem. */
const AUTH_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredTokenException',
  'ExpiredToken',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'AccessDeniedException',
  'AccessDenied',
]);

/**
 * Turns an AWS error that a user fixes outside stepline (credentials, permissions) into a one-line
 * `UsageError`; anything else is returned as it is.
 */
export function explainAwsError(error: unknown, doing: string): unknown {
  if (!(error instanceof Error) || !AUTH_ERRORS.has(error.name)) return error;
  const message = oneLine(error.message);
  if (error.name === 'AccessDeniedException' || error.name === 'AccessDenied')
    return new UsageError(`${doing}: AWS denied access: ${message}`, { cause: error });
  if (error.name === 'CredentialsProviderError') return new UsageError(`${doing}: no usable AWS credentials: ${message}`, { cause: error });
  return new UsageError(`${doing}: AWS did not accept the credentials (${error.name}): ${message}; ${CREDENTIALS_HELP}`, { cause: error });
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
