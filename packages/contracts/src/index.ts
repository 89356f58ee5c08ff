export * from './audit.ts';
export * from './errors.ts';
export * from './identity.ts';
