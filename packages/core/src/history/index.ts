export * from './execution-records';
export * from './machine';
export * from './pipeline-state';
