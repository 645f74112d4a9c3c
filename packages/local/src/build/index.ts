export { type BuildReport, type BuildStatus, type RunBuildOptions, runBuild } from './run-build';
export { MASK, SecretMasker } from './secret-masker';
