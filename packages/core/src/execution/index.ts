export * from './input';
export * from './source-revisions';
