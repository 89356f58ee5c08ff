import { realpathSync } from 'node:fs';
import { type Clock, isoNow } from '../clock.ts';
import type { Store } from '../store/open-store.ts';
import { hashTree } from './content-hash.ts';

/** The local directory (or file) of a dataset location, or null when it is not on this machine. */
export function localPathOf(location: string): string | null {
  const path = location.startsWith('file://')
    ? location.slice('file://'.length)
    : location.startsWith('/')
      ? location
      : null;
  if (path === null) return null;
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * Hashes a registered dataset's contents now (sha256 over sorted relative paths and bytes) and records it on
 * the dataset; null when the dataset is unregistered or not readable here (an object-store location).
 */
export async function hashDataset(store: Store, clock: Clock, path: string): Promise<string | null> {
  const row = await store.db
    .selectFrom('datasets')
    .select(['location'])
    .where('path', '=', path)
    .executeTakeFirst();
  const local = row ? localPathOf(row.location) : null;
  if (local === null) return null;
  const hash = hashTree(local);
  await store.db
    .updateTable('datasets')
    .set({ content_hash: hash, hashed_at: isoNow(clock) })
    .where('path', '=', path)
    .execute();
  return hash;
}
