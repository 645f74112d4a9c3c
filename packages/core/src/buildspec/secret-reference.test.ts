import { describe, expect, it } from 'vitest';
import { parseSecretReference } from './secret-reference';

describe('parseSecretReference', () => {
  it('splits a name reference into secret id, JSON key, version stage and version id', () => {
    expect(parseSecretReference('prod/db')).toStrictEqual({ secretId: 'prod/db' });
    expect(parseSecretReference('prod/db:password')).toStrictEqual({ secretId: 'prod/db', jsonKey: 'password' });
    expect(parseSecretReference('prod/db::AWSPREVIOUS')).toStrictEqual({ secretId: 'prod/db', versionStage: 'AWSPREVIOUS' });
    expect(parseSecretReference('prod/db:password:AWSCURRENT:v1')).toStrictEqual({
      secretId: 'prod/db',
      jsonKey: 'password',
      versionStage: 'AWSCURRENT',
      versionId: 'v1',
    });
  });

  it('keeps the colons of an ARN inside the secret id', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:052112422291:secret:testing/codecov/token-OB8isC';
    expect(parseSecretReference(arn)).toStrictEqual({ secretId: arn });
    expect(parseSecretReference(`${arn}:token`)).toStrictEqual({ secretId: arn, jsonKey: 'token' });
  });
});
