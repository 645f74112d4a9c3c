export * from './approvals/index';
export * from './artifacts';
export * from './buildspec/index';
export * from './codedeploy/index';
export * from './compiler/index';
export * from './deploy/cloudformation-input';
export * from './deploy/deployment-configs';
export * from './deploy/index';
export * from './deploy/plan';
export * from './errors';
export * from './execution/index';
export * from './gates/index';
export * from './github/index';
export * from './history/index';
export * from './html';
export * from './http-error';
export {
  type ImportedPipeline,
  type ImportOptions,
  importCodePipeline,
  REFUSED_PROVIDERS,
  SUPPORTED_PROVIDERS,
  toSteplineYaml,
} from './importers/codepipeline';
export * from './installation';
export { type DocumentFormat, formatPath, parseDocumentText } from './model/issues';
export { definePipeline, parsePipeline, parsePipelineText } from './model/parse';
export * from './model/references';
export * from './model/schema';
export { type ActionPosition, actionPositions, outputVariablesOf, runsBefore } from './model/validate';
export * from './triggers/index';
export { crc32, type ZipEntry, zipStored } from './zip';
