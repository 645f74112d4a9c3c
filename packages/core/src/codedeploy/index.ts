export * from './agent-script';
export * from './appspec';
export * from './host-batches';
export * from './in-place';
