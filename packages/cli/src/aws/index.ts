/**
 * `--target aws`: the CLI's backend for an installation made with `sst deploy`. Loaded only when asked
 * for (`await import('../aws/index')`), so local use never loads the AWS SDK.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { PipelineBackend } from '../backend';
import { AwsBackend } from './backend';
import { clientConfig, resolveAwsEnvironment } from './credentials';

export { AwsBackend, type AwsBackendOptions, type InstalledPipeline } from './backend';
export { type AwsEnvironment, type AwsTargetOptions, explainAwsError, resolveAwsEnvironment } from './credentials';
export { ManifestTag, type PipelineManifest, PipelineManifestSchema, parseManifest } from './manifest';

export interface AwsBackendCreateOptions {
  /** `--region`. */
  region?: string;
  /** `--profile`. */
  profile?: string;
  /** `--stage`: the SST stage (the team's installation). @default every stepline installation in the account and region */
  stage?: string;
}

/** Resolves region and credentials (a one-line UsageError when either is missing) and makes the backend. */
export async function createAwsBackend(options: AwsBackendCreateOptions = {}): Promise<PipelineBackend> {
  // On Node 20 the SDK prints a multi-line notice about its future Node 22 requirement on every run; the
  // CLI supports Node 20.19 on purpose (engines), so the notice is noise here. An explicit setting wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const environment = await resolveAwsEnvironment(options);
  const config = clientConfig(environment);
  return new AwsBackend({
    sfn: new SFNClient(config),
    s3: new S3Client(config),
    ...(options.stage !== undefined && { stage: options.stage }),
  });
}
