import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SecretCache } from './secrets';

const sm = mockClient(SecretsManagerClient);
const ssm = mockClient(SSMClient);

function cache(clock: { now: number }) {
  return new SecretCache({
    secretsManager: async () => new SecretsManagerClient({}),
    ssm: async () => new SSMClient({}),
    ttlMs: 300_000,
    now: () => clock.now,
  });
}

describe('SecretCache', () => {
  beforeEach(() => {
    sm.reset();
    ssm.reset();
  });

  it('reads Secrets Manager or SSM as the reference says, with decryption, and JSON fields', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'stepline/slack' }).resolves({ SecretString: '{"signingSecret":"s1","url":"https://hooks.slack.com/x"}' });
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'p1' } });
    const secrets = cache({ now: 0 });
    expect(await secrets.get('stepline/slack#signingSecret')).toBe('s1');
    expect(await secrets.get('/stepline/team/github-webhook-secret')).toBe('p1');
    expect(await secrets.get('arn:aws:ssm:us-east-1:123456789012:parameter/stepline/key')).toBe('p1');
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/stepline/team/github-webhook-secret', WithDecryption: true });
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: 'arn:aws:ssm:us-east-1:123456789012:parameter/stepline/key', WithDecryption: true });
    await expect(secrets.get('stepline/slack#missing')).rejects.toMatchObject({ name: 'Stepline.Configuration' });
  });

  it('keeps a value for its time to live, and reads a rotated one only once it is old enough', async () => {
    let value = 'old';
    sm.on(GetSecretValueCommand).callsFake(() => ({ SecretString: value }));
    const clock = { now: 0 };
    const secrets = cache(clock);
    expect(await secrets.get('s')).toBe('old');
    value = 'new';
    clock.now = 30_000;
    expect(await secrets.get('s')).toBe('old');
    expect(await secrets.refresh('s', 60_000)).toBeUndefined();
    clock.now = 61_000;
    expect(await secrets.refresh('s', 60_000)).toBe('new');
    expect(await secrets.get('s')).toBe('new');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    clock.now = 400_000;
    await secrets.get('s');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 3);
  });

  it('reads a secret once when cold invocations ask for it together', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'v' });
    const secrets = cache({ now: 0 });
    await Promise.all([secrets.get('s'), secrets.get('s'), secrets.get('s')]);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });
});
