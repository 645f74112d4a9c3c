export { type BatchBuild, BatchType, type BuildBatch, expandBatch } from './batch';
export { isInlineBuildspec, type ParsedBuildspec, parseBuildspec, parseBuildspecText } from './parse';
export { BUILD_PHASES, BuildPhase, nextPhase, PHASE_KEY_OF, PhaseStatus } from './phases';
export {
  type ArtifactSpec,
  type Buildspec,
  type BuildspecPhase,
  OnFailure,
  PHASE_KEYS,
  type PhaseKey,
  ReportFileFormat,
  type ReportGroupSpec,
} from './schema';
export { parseSecretReference, type SecretReference } from './secret-reference';
