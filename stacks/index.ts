export { type BundleFiles, type BundleOptions, bundleHandler, bundleHandlers } from './bundle';
export * from './iam';
export { installStepline, type Stepline, type SteplineArgs, statusPattern } from './install';
export { pipelineManifest } from './manifest';
export * from './names';
export * from './pipelines';
export * from './plan';
