/**
 * stepline's AWS adapters, behind core's interfaces: what the CLI and the stacks use of this package.
 * The Lambda handlers are not exported: each is bundled from `./handlers/<name>.ts` (see `./bundle`).
 */
export * from './canary/index';
export * from './errors';
export * from './executions/index';
export * from './gates/index';
/** How a source artifact is stored (its files, then its manifest): what every reader of artifacts expects. */
export { storeArtifact } from './source/store';
