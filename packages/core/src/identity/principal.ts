import type { TeamRole } from '@aicloud/contracts';
import { notFound } from '../app-error.ts';

/** The authenticated caller of one request. */
export interface Principal {
  userId: string;
  userName: string;
  platformAdmin: boolean;
  /** Team name → role, for every team the user belongs to. */
  teams: Map<string, TeamRole>;
  tokenId: string;
  tokenName: string;
  tokenExpiresAt: string | null;
  /** A token limited to one resource (a job's run token), or null for a full user token. */
  scope: string | null;
}

/** The caller plus the request it came with, passed to every service call. */
export interface Actor {
  principal: Principal;
  requestId: string | null;
}

/** Whether the principal belongs to the team (any role) or is a platform-admin. */
export function canSeeTeam(principal: Principal, team: string): boolean {
  return principal.platformAdmin || principal.teams.has(team);
}

/** Whether the principal manages the team or is a platform-admin. */
export function managesTeam(principal: Principal, team: string): boolean {
  return principal.platformAdmin || principal.teams.get(team) === 'manager';
}

/**
 * The teams a listing may show: the one asked for (not_found if the caller cannot see it), else the
 * caller's teams; null means every team (platform-admins asking for no team in particular).
 */
export function teamsToList(principal: Principal, team?: string): string[] | null {
  if (team) {
    if (!canSeeTeam(principal, team)) throw notFound('team', team);
    return [team];
  }
  return principal.platformAdmin ? null : [...principal.teams.keys()];
}
