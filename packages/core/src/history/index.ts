export * from './execution-records';
export * from './pipeline-state';
export * from './timeline';
