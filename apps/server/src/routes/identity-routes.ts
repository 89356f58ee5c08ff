import {
  AddMemberRequest,
  CreatedToken,
  CreateTeamRequest,
  CreateTokenRequest,
  Team,
  TokenInfo,
  WhoAmI,
} from '@aicloud/contracts';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** Who-is-who: the caller, teams and their members, the caller's API tokens. */
export function identityRoutes({ identity }: RouteDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/whoami',
      summary: 'The caller: user, team memberships and the token in use',
      tag: 'identity',
      response: WhoAmI,
      handler: ({ actor }) => identity.whoami(actor),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/teams',
      summary: 'Teams the caller can see (all of them for platform-admins)',
      tag: 'identity',
      response: z.object({ items: z.array(Team) }),
      handler: async ({ actor }) => ({ items: await identity.listTeams(actor) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/teams',
      summary: 'Create a team (platform-admins only)',
      tag: 'identity',
      body: CreateTeamRequest,
      response: Team,
      status: 201,
      handler: ({ actor, body }) => identity.createTeam(actor, body.name),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/teams/:team',
      summary: 'One team and its members',
      tag: 'identity',
      response: Team,
      handler: ({ actor, params }) => identity.getTeam(actor, params.team!),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/teams/:team/members',
      summary: 'Add a user to a team or change their role (platform-admins only)',
      tag: 'identity',
      body: AddMemberRequest,
      response: Team,
      handler: ({ actor, params, body }) => identity.addMember(actor, params.team!, body),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tokens',
      summary: "The caller's API tokens (never their secrets)",
      tag: 'identity',
      response: z.object({ items: z.array(TokenInfo) }),
      handler: async ({ actor }) => ({ items: await identity.listTokens(actor) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/tokens',
      summary: 'Create an API token for the caller; the secret is in this response only',
      tag: 'identity',
      body: CreateTokenRequest,
      response: CreatedToken,
      status: 201,
      handler: ({ actor, body }) => identity.createToken(actor, body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/tokens/:id',
      summary: 'Revoke one of the caller’s tokens',
      tag: 'identity',
      response: TokenInfo,
      handler: ({ actor, params }) => identity.revokeToken(actor, params.id!),
    }),
  ];
}
