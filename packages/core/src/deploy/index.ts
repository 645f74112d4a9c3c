// Plans and predefined configurations are exported from the package index directly.
export * from './canary';
export * from './lambda-appspec';
export * from './ports';
export * from './request';
