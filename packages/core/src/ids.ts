import { randomBytes } from 'node:crypto';

/** A new id with a readable prefix, e.g. `newId('job')` → `job_3f9c1a7b2d4e`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}
