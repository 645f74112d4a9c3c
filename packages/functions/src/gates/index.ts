export * from './errors';
export * from './memory-store';
export * from './responder';
export * from './s3-store';
export * from './service';
export * from './store';
