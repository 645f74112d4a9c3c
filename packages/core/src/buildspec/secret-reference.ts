/**
 * References in `env.secrets-manager`: `secret-id:json-key:version-stage:version-id`, where the
 * secret id is a name (`prod/db`) or a full ARN, which holds colons of its own.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.env.secrets-manager
 */

export interface SecretReference {
  secretId: string;
  /** The key to read when the secret's value is a JSON object. */
  jsonKey?: string;
  versionStage?: string;
  versionId?: string;
}

/** `arn:aws:secretsmanager:<region>:<account>:secret:<name>`: seven colon-separated parts. */
const ARN_PARTS = 7;

export function parseSecretReference(reference: string): SecretReference {
  const parts = reference.split(':');
  const idParts = reference.startsWith('arn:') ? Math.min(ARN_PARTS, parts.length) : 1;
  const secretId = parts.slice(0, idParts).join(':');
  const [jsonKey, versionStage, versionId] = parts.slice(idParts).map((p) => (p === '' ? undefined : p));
  const out: SecretReference = { secretId };
  if (jsonKey !== undefined) out.jsonKey = jsonKey;
  if (versionStage !== undefined) out.versionStage = versionStage;
  if (versionId !== undefined) out.versionId = versionId;
  return out;
}
