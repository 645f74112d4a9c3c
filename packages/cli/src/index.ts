/**
 * The CLI's backends, for tools and tests that drive stepline without its command line: the same
 * verbs against this machine's history or an AWS installation, and the manifest `sst deploy` writes.
 */
export { AwsBackend, type AwsBackendOptions, type InstalledPipeline } from './aws/backend';
export { MANIFEST_VERSION, ManifestTag, type PipelineManifest, PipelineManifestSchema, parseManifest, parseS3Url } from './aws/manifest';
export type { PipelineBackend } from './backend';
export { UsageError } from './errors';
export { LocalBackend } from './local-backend';
