export * from './check';
export * from './deployment-window';
export * from './evaluation';
export * from './override';
export * from './variable-check';
