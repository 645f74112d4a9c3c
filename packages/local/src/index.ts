export * from './engine/execute';
export * from './canary/index';
