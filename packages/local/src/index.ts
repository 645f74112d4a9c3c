export * from './engine/execute';
