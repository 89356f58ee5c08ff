import type { Kysely, Selectable } from 'kysely';
import { notFound } from '../app-error.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import type { Database } from '../store/schema.ts';

/** A live endpoint by name, as its caller may see it: another team's (or a canary row) is absent, 404. */
export async function visibleEndpoint(
  db: Kysely<Database>,
  actor: Actor,
  name: string,
): Promise<Selectable<Database['endpoints']>> {
  const row = await db
    .selectFrom('endpoints')
    .selectAll()
    .where('name', '=', name)
    .where('status', '!=', 'deleted')
    .where('canary_of', 'is', null)
    .executeTakeFirst();
  if (!row || !canSeeTeam(actor.principal, row.team)) throw notFound('endpoint', name);
  return row;
}
