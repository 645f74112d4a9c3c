/**
 * Names of what one installation creates. Most are fixed in advance, not left to Pulumi's auto-naming,
 * because the compiled state machines must name the functions, bucket and topic they use, and the
 * functions must find the state machines: deciding names first breaks that cycle.
 */

/** Limits AWS puts on names. */
const MAX = { bucket: 63, function: 64, stateMachine: 80, topic: 256, project: 255, role: 64 } as const;

export interface InstallationNames {
  /** `stepline-<stage>`: the prefix of every name. */
  prefix: string;
  bucket: string;
  approvalTopic: string;
  notificationTopic: string;
  /** `<prefix>-<function>`, e.g. `stepline-team-gate`. */
  function(name: string): string;
  /** `<prefix>-<pipeline>`: the gate and canary functions read the pipeline back from it. */
  stateMachine(pipeline: string): string;
  /** SSM parameter holding a secret, e.g. `/stepline/team/github-webhook-secret`. */
  parameter(secret: string): string;
}

/** Lowercase letters, digits and `-`: valid in every name above. */
export function sanitize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Short, stable hash, to keep shortened names apart. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** `name` when it fits, else its start and a hash of the whole. */
export function fitName(name: string, max: number): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 9).replace(/-+$/, '')}-${shortHash(name)}`;
}

export function installationNames(stage: string, accountId: string, region: string): InstallationNames {
  const prefix = `stepline-${sanitize(stage) || 'default'}`;
  return {
    prefix,
    // Bucket names are global: account and region make them ours.
    bucket: fitName(`${prefix}-artifacts-${accountId}-${region}`, MAX.bucket),
    approvalTopic: fitName(`${prefix}-approvals`, MAX.topic),
    notificationTopic: fitName(`${prefix}-notifications`, MAX.topic),
    function: (name) => fitName(`${prefix}-${name}`, MAX.function),
    stateMachine: (pipeline) => fitName(`${prefix}-${pipeline}`, MAX.stateMachine),
    parameter: (secret) => `/${prefix.replace(/^stepline-/, 'stepline/')}/${secret}`,
  };
}

export const lambdaArn = (region: string, accountId: string, name: string) => `arn:aws:lambda:${region}:${accountId}:function:${name}`;
export const stateMachineArn = (region: string, accountId: string, name: string) => `arn:aws:states:${region}:${accountId}:stateMachine:${name}`;
export const topicArn = (region: string, accountId: string, name: string) => `arn:aws:sns:${region}:${accountId}:${name}`;
export const parameterArn = (region: string, accountId: string, name: string) => `arn:aws:ssm:${region}:${accountId}:parameter${name}`;
