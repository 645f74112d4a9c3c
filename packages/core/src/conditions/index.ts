export * from './check';
export * from './deployment-window';
export * from './variable-check';
