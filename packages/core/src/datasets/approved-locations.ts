import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

/** The approved data lake: location prefixes (URIs) that platform configuration trusts. */
export async function approvedLocations(db: Kysely<Database> | Transaction<Database>): Promise<string[]> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', 'approved_locations')
    .executeTakeFirst();
  return row ? (JSON.parse(row.value) as string[]) : [];
}

/** Whether a location lies inside one of the approved prefixes (a whole path segment must match). */
export function inApprovedLocation(location: string, approved: string[]): boolean {
  return approved.some((prefix) => {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    return location === prefix || location.startsWith(base);
  });
}
