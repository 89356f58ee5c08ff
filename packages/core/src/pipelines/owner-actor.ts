import type { Actor } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';

/** The actor of a user by name, for steps submitted on the pipeline owner's behalf. */
export async function ownerActor(store: Store, name: string): Promise<Actor> {
  const user = await store.db
    .selectFrom('users')
    .select(['id', 'name', 'platform_admin'])
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  const memberships = await store.db
    .selectFrom('memberships')
    .innerJoin('teams', 'teams.id', 'memberships.team_id')
    .select(['teams.name as team', 'memberships.role as role'])
    .where('memberships.user_id', '=', user.id)
    .execute();
  return {
    principal: {
      userId: user.id,
      userName: user.name,
      platformAdmin: user.platform_admin === 1,
      teams: new Map(memberships.map((m) => [m.team, m.role as 'member' | 'manager'])),
      tokenId: 'pipeline',
      tokenName: 'pipeline',
      tokenExpiresAt: null,
      scope: null,
    },
    requestId: null,
  };
}
