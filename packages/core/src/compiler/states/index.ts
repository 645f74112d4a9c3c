export * from './builders';
export * from './types';
export * from './validate-graph';
