import { routes } from '@aicloud/contracts';
import { implement, type RouteDeps } from '../route.ts';

/** Who-is-who: the caller, teams and their members, the caller's API tokens. */
export function identityRoutes({ identity }: RouteDeps) {
  return [
    implement(routes.whoami, ({ actor }) => identity.whoami(actor)),
    implement(routes.listTeams, async ({ actor }) => ({ items: await identity.listTeams(actor) })),
    implement(routes.createTeam, ({ actor, body }) => identity.createTeam(actor, body.name)),
    implement(routes.getTeam, ({ actor, params }) => identity.getTeam(actor, params.team)),
    implement(routes.addTeamMember, ({ actor, params, body }) =>
      identity.addMember(actor, params.team, body),
    ),
    implement(routes.listTokens, async ({ actor }) => ({ items: await identity.listTokens(actor) })),
    implement(routes.createToken, ({ actor, body }) => identity.createToken(actor, body)),
    implement(routes.revokeToken, ({ actor, params }) => identity.revokeToken(actor, params.id)),
  ];
}
