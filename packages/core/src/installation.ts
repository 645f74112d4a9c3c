/**
 * The contract of an AWS installation: what `sst deploy` (stacks/) writes and what the functions and
 * the CLI read. S3 prefixes in the artifact bucket, the functions' keys, their environment variables,
 * the state machines' tags and the pipeline manifest are spelled here and nowhere else.
 */
import type { StateMap } from './compiler/context';
import type { Pipeline } from './model/schema';

/** Keys under which an installation keeps its own data in the artifact bucket, beside the `<pipeline>/` prefixes. */
export const ControlPrefix = {
  root: '_stepline/',
  /** Gate state, one object per pipeline (`<prefix><pipeline>.json`). */
  gates: '_stepline/gates/',
  /** Approval records, one per approval. */
  approvals: '_stepline/approvals/',
  /** Deployment records: `<prefix><pipeline>/<execution>/<stage>/<action>.json`. */
  deployments: '_stepline/deployments/',
  /** Pipeline manifests: `<prefix><pipeline>.json` (see `PipelineManifest`). */
  pipelines: '_stepline/pipelines/',
  /** Every pipeline definition in one JSON array, for the webhook (`PIPELINES=s3://…`). */
  pipelineList: '_stepline/pipelines.json',
} as const;

/** Where a pipeline's manifest is kept in the artifact bucket. */
export const pipelineManifestKey = (pipeline: string) => `${ControlPrefix.pipelines}${pipeline}.json`;

/** The functions of an installation, by their handler file in packages/functions/src/handlers. */
export const FUNCTION_KEYS = ['gate', 'webhook', 'source', 'approval-request', 'approval-response', 'notify', 'canary'] as const;
export type FunctionKey = (typeof FUNCTION_KEYS)[number];

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
  /** Base URL of the approval links (the approval-response Function URL). */
  PublicUrl: 'PUBLIC_URL',
  GithubApiUrl: 'GITHUB_API_URL',
  GithubToken: 'GITHUB_TOKEN',
  GithubWebhookSecret: 'GITHUB_WEBHOOK_SECRET',
  LinkSigningKey: 'LINK_SIGNING_KEY',
  SlackWebhookUrl: 'SLACK_WEBHOOK_URL',
  SlackSigningSecret: 'SLACK_SIGNING_SECRET',
} as const;
export type EnvVar = (typeof EnvVar)[keyof typeof EnvVar];

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
  stateMachineName: string;
  artifactBucket: string;
  /** Where gate state objects live in the bucket. */
  gatePrefix: string;
}
