import { contractRoute, itemsOf } from '../contract-route.ts';
import {
  AddMemberRequest,
  CreatedToken,
  CreateTeamRequest,
  CreateTokenRequest,
  Team,
  TokenInfo,
  WhoAmI,
} from '../identity.ts';

/** Who-is-who: the caller, teams and their members, the caller's API tokens. */
export const identityRoutes = {
  whoami: contractRoute({
    method: 'GET',
    path: '/v1/whoami',
    summary: 'The caller: user, team memberships and the token in use',
    tag: 'identity',
    response: WhoAmI,
  }),
  listTeams: contractRoute({
    method: 'GET',
    path: '/v1/teams',
    summary: 'Teams the caller can see (all of them for platform-admins)',
    tag: 'identity',
    response: itemsOf(Team),
  }),
  createTeam: contractRoute({
    method: 'POST',
    path: '/v1/teams',
    summary: 'Create a team (platform-admins only)',
    tag: 'identity',
    body: CreateTeamRequest,
    response: Team,
    status: 201,
  }),
  getTeam: contractRoute({
    method: 'GET',
    path: '/v1/teams/:team',
    summary: 'One team and its members',
    tag: 'identity',
    response: Team,
  }),
  addTeamMember: contractRoute({
    method: 'POST',
    path: '/v1/teams/:team/members',
    summary: 'Add a user to a team or change their role (platform-admins only)',
    tag: 'identity',
    body: AddMemberRequest,
    response: Team,
  }),
  listTokens: contractRoute({
    method: 'GET',
    path: '/v1/tokens',
    summary: "The caller's API tokens (never their secrets)",
    tag: 'identity',
    response: itemsOf(TokenInfo),
  }),
  createToken: contractRoute({
    method: 'POST',
    path: '/v1/tokens',
    summary: 'Create an API token for the caller; the secret is in this response only',
    tag: 'identity',
    body: CreateTokenRequest,
    response: CreatedToken,
    status: 201,
  }),
  revokeToken: contractRoute({
    method: 'DELETE',
    path: '/v1/tokens/:id',
    summary: 'Revoke one of the caller’s tokens',
    tag: 'identity',
    response: TokenInfo,
  }),
};
