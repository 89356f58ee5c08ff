export * from './approvals.ts';
export * from './audit.ts';
export * from './catalog.ts';
export * from './datasets.ts';
export * from './errors.ts';
export * from './identity.ts';
export * from './jobs.ts';
