export * from './execution-records';
export * from './execution-status';
export * from './machine';
export * from './pipeline-state';
export * from './rollback';
export * from './rule-executions';
export * from './timeline';
