export * from './pipeline-state';
