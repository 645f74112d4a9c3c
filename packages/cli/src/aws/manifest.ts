/** The pipeline manifest as the CLI reads it: one reader, in the functions package (the rollback reads it too). */
export { MANIFEST_VERSION, ManifestTag, type PipelineManifest, PipelineManifestSchema, parseManifest, parseS3Url } from '@stepline/functions/executions';
