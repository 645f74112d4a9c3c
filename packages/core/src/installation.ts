/**
 * The contract of an AWS installation: what `sst deploy` (stacks/) writes and what the functions and
 * the CLI read. S3 prefixes in the artifact bucket, the functions' keys, their environment variables,
 * the state machines' tags and the pipeline manifest are spelled here and nowhere else.
 */
import type { CompileOptions, FunctionArns, StateMap } from './compiler/context';
import type { ConditionKind } from './compiler/names';
import type { Pipeline } from './model/schema';
import type { GitHost } from './triggers/match';

/** Keys under which an installation keeps its own data in the artifact bucket, beside the `<pipeline>/` prefixes. */
export const ControlPrefix = {
  root: '_stepline/',
  /** Gate state, one object per pipeline (`<prefix><pipeline>.json`). */
  gates: '_stepline/gates/',
  /** Approval records, one per approval. */
  approvals: '_stepline/approvals/',
  /** Deployment records: `<prefix><pipeline>/<execution>/<stage>/<action>.json`. */
  deployments: '_stepline/deployments/',
  /** The last revision each codedeploy action deployed successfully: `<prefix><pipeline>/<stage>/<action>.json`. */
  revisions: '_stepline/revisions/',
  /** Stage conditions let through by hand: `<prefix><pipeline>/<execution>/<stage>/<condition>/<evaluation>.json` (a `ConditionOverride`). */
  conditionOverrides: '_stepline/condition-overrides/',
  /** Pipeline manifests: `<prefix><pipeline>.json` (see `PipelineManifest`). */
  pipelines: '_stepline/pipelines/',
  /** Every pipeline definition in one JSON array, for the webhook (`PIPELINES=s3://…`). */
  pipelineList: '_stepline/pipelines.json',
} as const;

/** Where a codedeploy action's last good revision is recorded (the rollback's target). */
export const lastGoodRevisionKey = (pipeline: string, stage: string, action: string) => `${ControlPrefix.revisions}${pipeline}/${stage}/${action}.json`;

/**
 * Where an override of one evaluation of an execution's stage condition is recorded (written once by
 * the CLI, read by the conditions function): `<pipeline>/<execution>/<stage>/<condition>/<evaluation>.json`,
 * so that the condition evaluated again (a retried stage) runs its rules again. A machine compiled
 * before checks named their evaluation reads `<condition>.json`, as it did.
 */
export const conditionOverrideKey = (pipeline: string, executionId: string, stage: string, condition: ConditionKind, evaluation: string | undefined) =>
  `${ControlPrefix.conditionOverrides}${pipeline}/${executionId}/${stage}/${condition}${evaluation === undefined ? '' : `/${evaluation}`}.json`;

/** Where a pipeline's manifest is kept in the artifact bucket. */
export const pipelineManifestKey = (pipeline: string) => `${ControlPrefix.pipelines}${pipeline}.json`;

/** The functions of an installation, by their handler file in packages/functions/src/handlers. */
export const FUNCTION_KEYS = [
  'gate',
  'webhook',
  'source',
  'approval-request',
  'approval-response',
  'notify',
  'canary',
  's3-deploy',
  'cloudformation',
  'code-deploy',
  'conditions',
] as const;
export type FunctionKey = (typeof FUNCTION_KEYS)[number];

/** The function each kind of compiled Task invokes, by the compiler's name for it. */
export const TASK_FUNCTIONS = {
  source: 'source',
  approval: 'approval-request',
  gate: 'gate',
  canary: 'canary',
  s3Deploy: 's3-deploy',
  cloudFormation: 'cloudformation',
  codeDeploy: 'code-deploy',
  conditions: 'conditions',
} as const satisfies Record<keyof FunctionArns, FunctionKey>;

/** The compiler's function ARNs, each from its function's key. */
export function taskFunctionArns(arnOf: (key: FunctionKey) => string): FunctionArns {
  return Object.fromEntries(Object.entries(TASK_FUNCTIONS).map(([task, key]) => [task, arnOf(key)])) as unknown as FunctionArns;
}

/** Environment variables the stacks set and the functions read. */
export const EnvVar = {
  /** The artifact bucket (artifacts, and the control data under `_stepline/`). */
  ArtifactBucket: 'ARTIFACT_BUCKET',
  /** Where approvals are kept; `ARTIFACT_BUCKET` when absent. */
  ApprovalBucket: 'APPROVAL_BUCKET',
  ApprovalTopicArn: 'APPROVAL_TOPIC_ARN',
  NotificationTopicArn: 'NOTIFICATION_TOPIC_ARN',
  /** State machines are named `<prefix><pipeline>`. */
  StateMachinePrefix: 'STATE_MACHINE_PREFIX',
  /** JSON object of pipeline name → state machine ARN. */
  StateMachineArns: 'STATE_MACHINE_ARNS',
  /** The pipeline definitions, as JSON or `s3://bucket/key`. */
  Pipelines: 'PIPELINES',
  /** The prefix of the CodeBuild projects the installation creates (core's `ruleProjectName`). */
  ProjectPrefix: 'CODEBUILD_PROJECT_PREFIX',
  /** Base URL of the approval links (the approval-response Function URL). */
  PublicUrl: 'PUBLIC_URL',
  GithubApiUrl: 'GITHUB_API_URL',
  GithubToken: 'GITHUB_TOKEN',
  GithubWebhookSecret: 'GITHUB_WEBHOOK_SECRET',
  /** A GitLab token (`read_repository`) the source function downloads GitLab trees with. */
  GitlabToken: 'GITLAB_TOKEN',
  /** GitLab's API. @default 'https://gitlab.com/api/v4' */
  GitlabApiUrl: 'GITLAB_API_URL',
  /** Bitbucket Cloud credentials the source function downloads trees with: `user:app password` or an access token. */
  BitbucketToken: 'BITBUCKET_TOKEN',
  /** Bitbucket's site, whose `/get/` links serve archives. @default 'https://bitbucket.org' */
  BitbucketUrl: 'BITBUCKET_URL',
  /** GitLab's webhook secret token; without it the webhook takes no GitLab deliveries. */
  GitlabWebhookSecret: 'GITLAB_WEBHOOK_SECRET',
  /** Bitbucket Cloud's webhook secret; without it the webhook takes no Bitbucket deliveries. */
  BitbucketWebhookSecret: 'BITBUCKET_WEBHOOK_SECRET',
  LinkSigningKey: 'LINK_SIGNING_KEY',
  SlackWebhookUrl: 'SLACK_WEBHOOK_URL',
  SlackSigningSecret: 'SLACK_SIGNING_SECRET',
} as const;
export type EnvVar = (typeof EnvVar)[keyof typeof EnvVar];

/** The variable holding (a reference to) each git host's webhook secret, as the webhook function reads it. */
export const WEBHOOK_SECRET_ENV = {
  GitHub: EnvVar.GithubWebhookSecret,
  GitLab: EnvVar.GitlabWebhookSecret,
  Bitbucket: EnvVar.BitbucketWebhookSecret,
} as const satisfies Record<GitHost, EnvVar>;

/** The variables holding each git host's read token (a secret reference) and its base URL, as the source function reads them. */
export const GIT_HOST_ACCESS_ENV = {
  GitHub: { token: EnvVar.GithubToken, url: EnvVar.GithubApiUrl },
  GitLab: { token: EnvVar.GitlabToken, url: EnvVar.GitlabApiUrl },
  Bitbucket: { token: EnvVar.BitbucketToken, url: EnvVar.BitbucketUrl },
} as const satisfies Record<GitHost, { token: EnvVar; url: EnvVar }>;

/** Tags on every state machine of an installation: how the CLI finds them and their manifests. */
export const InstallationTag = {
  Pipeline: 'stepline:pipeline',
  Installation: 'stepline:installation',
  /** `s3://<artifact bucket>/_stepline/pipelines/<pipeline>.json` */
  Manifest: 'stepline:manifest',
} as const;

export const PIPELINE_MANIFEST_VERSION = 1;

/**
 * What the CLI reads to show an installed pipeline: the parsed pipeline and the compiler's state map,
 * so that history turns into pipeline state without the definition files.
 */
export interface PipelineManifestDocument {
  version: typeof PIPELINE_MANIFEST_VERSION;
  installation: string;
  pipeline: Pipeline;
  stateMap: StateMap;
  /** SHA-256 of the compiled machine (`machineHash`); absent in manifests written before it was kept. */
  machineHash?: string;
  stateMachineName: string;
  artifactBucket: string;
  /** Where gate state objects live in the bucket. */
  gatePrefix: string;
}

// Names of what one installation creates. Most are fixed in advance, not left to Pulumi's auto-naming,
// because the compiled state machines must name the functions, bucket and topic they use, and the
// functions must find the state machines: deciding names first breaks that cycle.

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

/** Where an installation is: its sst stage, AWS account and region. */
export interface InstallationLocation {
  stage: string;
  region: string;
  accountId: string;
}

/**
 * The options an installation compiles its pipelines with: the function, bucket, topic and project
 * names `sst deploy` creates. `stepline compile --target aws --install <stage>` uses the same, so what it
 * prints is what the installation runs.
 */
export function installationCompileOptions(location: InstallationLocation): CompileOptions & Required<Pick<CompileOptions, 'functions'>> {
  const { region, accountId } = location;
  const names = installationNames(location.stage, accountId, region);
  const fn = (key: FunctionKey) => lambdaArn(region, accountId, names.function(key));
  return {
    target: 'aws',
    region,
    accountId,
    artifactBucket: names.bucket,
    approvalTopicArn: topicArn(region, accountId, names.approvalTopic),
    projectPrefix: names.prefix,
    functions: taskFunctionArns(fn),
  };
}
