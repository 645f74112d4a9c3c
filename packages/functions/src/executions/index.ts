/**
 * Reading an installation's executions: manifests, history, the manifest each execution ran with, and a
 * stage's rollback. The CLI's AWS backend and the conditions function share it.
 */
export { mapLimit } from '../concurrency';
export * from './history';
export * from './machine-manifests';
export * from './manifest';
export * from './rollback';
