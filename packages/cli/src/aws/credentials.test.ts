import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../errors';
import { explainAwsError, resolveAwsEnvironment } from './credentials';
import { createAwsBackend } from './index';

const AWS_VARIABLES = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
];

describe('--target aws: region and credentials', () => {
  beforeEach(() => {
    for (const name of AWS_VARIABLES) vi.stubEnv(name, undefined);
    // No ~/.aws files and no instance metadata: as on a laptop that never ran `aws configure`.
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/stepline/config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/stepline/credentials');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  });
  afterEach(() => vi.unstubAllEnvs());

  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => new Error('resolved'),
      (e: unknown) => e,
    );

  it('no region: one line saying where to set it', async () => {
    const error = await failure(createAwsBackend({}));
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe('--target aws: no AWS region: pass --region, set AWS_REGION, or set a region for the profile in ~/.aws/config');
  });

  it('no credentials: one line saying how to get some', async () => {
    const error = await failure(createAwsBackend({ region: 'eu-west-1' }));
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/^--target aws: no AWS credentials found: run `aws configure`/);
    expect((error as Error).message).not.toContain('\n');
  });

  it('a profile that does not exist: one line naming it', async () => {
    const error = await failure(createAwsBackend({ region: 'eu-west-1', profile: 'ghost' }));
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('ghost');
    expect((error as Error).message).not.toContain('\n');
  });

  it('takes region and credentials from the environment', async () => {
    vi.stubEnv('AWS_REGION', 'eu-central-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const environment = await resolveAwsEnvironment();
    expect(environment.region).toBe('eu-central-1');
    expect(await environment.credentials()).toMatchObject({ accessKeyId: 'AKIDEXAMPLE' });
  });

  it('turns credential and permission errors met later into one line; leaves others alone', () => {
    const expired = Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' });
    expect(explainAwsError(expired, 'list-pipelines')).toBeInstanceOf(UsageError);
    const other = Object.assign(new Error('boom'), { name: 'InternalServerError' });
    expect(explainAwsError(other, 'list-pipelines')).toBe(other);
  });
});
