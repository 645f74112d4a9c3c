export * from './appspec';
export * from './host-batches';
export * from './in-place';
