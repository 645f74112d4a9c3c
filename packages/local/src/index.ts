export * from './engine/execute';
export * from './canary/index';
export * from './build/index';
