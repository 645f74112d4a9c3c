export * from './check';
export * from './deployment-window';
export * from './override';
export * from './variable-check';
