import type {
  AddMemberRequest,
  CreatedToken,
  CreateTokenRequest,
  Team,
  TeamRole,
  TokenInfo,
  WhoAmI,
} from '@aicloud/contracts';
import type { Selectable, Transaction } from 'kysely';
import { checkPolicy, refusingHit } from '../admission/policy-check.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import { newId } from '../ids.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { createKeyRequest } from './key-policy.ts';
import { type Actor, canSeeTeam, type Principal } from './principal.ts';
import { hashToken, newTokenSecret, tokenPrefix } from './token-secret.ts';

type TokenRow = Selectable<Database['api_tokens']>;

/** Users, teams, memberships and API tokens. */
export interface IdentityService {
  /** Resolves a bearer token to its principal, or throws `unauthenticated`. */
  authenticate(secret: string): Promise<Principal>;
  whoami(actor: Actor): WhoAmI;
  listTeams(actor: Actor): Promise<Team[]>;
  getTeam(actor: Actor, name: string): Promise<Team>;
  createTeam(actor: Actor, name: string): Promise<Team>;
  addMember(actor: Actor, team: string, request: AddMemberRequest): Promise<Team>;
  createToken(actor: Actor, request: CreateTokenRequest): Promise<CreatedToken>;
  listTokens(actor: Actor): Promise<TokenInfo[]>;
  revokeToken(actor: Actor, id: string): Promise<TokenInfo>;
  /** Creates a user and, optionally, a first token; used by the seed and by platform-admins. */
  createUserInTrx(
    trx: Transaction<Database>,
    actorName: string,
    user: { name: string; platformAdmin?: boolean },
  ): Promise<{ id: string; name: string }>;
  createTokenInTrx(
    trx: Transaction<Database>,
    userId: string,
    request: { name: string; expiresAt?: string | null; scope?: string | null },
  ): Promise<CreatedToken>;
}

function toTokenInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** Creates the identity service. */
export function createIdentityService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
  /** The policy engine token creation is checked against (`create_key`). */
  authorizer: Authorizer;
}): IdentityService {
  const { store, audit, clock } = deps;
  const db = store.db;

  async function refuse(actor: Actor, action: string, resource: string, message: string): Promise<never> {
    await audit.record({
      actor: actor.principal.userName,
      action,
      resource,
      outcome: 'deny',
      requestId: actor.requestId,
      details: { reason: message },
    });
    throw new AppError('forbidden', message);
  }

  async function loadTeam(name: string): Promise<Team | undefined> {
    const team = await db.selectFrom('teams').selectAll().where('name', '=', name).executeTakeFirst();
    if (!team) return undefined;
    const members = await db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['users.name as user', 'memberships.role as role'])
      .where('memberships.team_id', '=', team.id)
      .orderBy('users.name')
      .execute();
    return {
      id: team.id,
      name: team.name,
      createdAt: team.created_at,
      members: members.map((member) => ({ user: member.user, role: member.role as TeamRole })),
    };
  }

  async function createTokenInTrx(
    trx: Transaction<Database>,
    userId: string,
    request: { name: string; expiresAt?: string | null; scope?: string | null },
  ): Promise<CreatedToken> {
    const secret = newTokenSecret();
    const row: TokenRow = {
      id: newId('tok'),
      user_id: userId,
      name: request.name,
      prefix: tokenPrefix(secret),
      hash: hashToken(secret),
      scope: request.scope ?? null,
      created_at: isoNow(clock),
      expires_at: request.expiresAt ?? null,
      revoked_at: null,
      last_used_at: null,
    };
    await trx.insertInto('api_tokens').values(row).execute();
    return { ...toTokenInfo(row), token: secret };
  }

  async function createUserInTrx(
    trx: Transaction<Database>,
    actorName: string,
    user: { name: string; platformAdmin?: boolean },
  ): Promise<{ id: string; name: string }> {
    const id = newId('usr');
    await trx
      .insertInto('users')
      .values({ id, name: user.name, platform_admin: user.platformAdmin ? 1 : 0, created_at: isoNow(clock) })
      .execute();
    await audit.append(trx, {
      actor: actorName,
      action: 'user.created',
      resource: `user/${user.name}`,
      outcome: 'success',
      details: { platformAdmin: user.platformAdmin ?? false },
    });
    return { id, name: user.name };
  }

  return {
    createUserInTrx,
    createTokenInTrx,

    async authenticate(secret) {
      const refused = new AppError(
        'unauthenticated',
        'missing, unknown, revoked or expired API token; sign in with `aicloud login --url URL --token TOKEN`',
      );
      if (!secret.startsWith('aic_')) throw refused;
      const row = await db
        .selectFrom('api_tokens')
        .innerJoin('users', 'users.id', 'api_tokens.user_id')
        .select([
          'api_tokens.id as tokenId',
          'api_tokens.name as tokenName',
          'api_tokens.expires_at as expiresAt',
          'api_tokens.revoked_at as revokedAt',
          'api_tokens.last_used_at as lastUsedAt',
          'api_tokens.scope as scope',
          'users.id as userId',
          'users.name as userName',
          'users.platform_admin as platformAdmin',
        ])
        .where('api_tokens.hash', '=', hashToken(secret))
        .executeTakeFirst();
      const now = isoNow(clock);
      if (!row || row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) throw refused;
      const memberships = await db
        .selectFrom('memberships')
        .innerJoin('teams', 'teams.id', 'memberships.team_id')
        .select(['teams.name as team', 'memberships.role as role'])
        .where('memberships.user_id', '=', row.userId)
        .execute();
      // Record use at most once a minute so authentication stays a read on the hot path.
      if (!row.lastUsedAt || clock.now() - Date.parse(row.lastUsedAt) > 60_000) {
        await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.tokenId).execute();
      }
      return {
        userId: row.userId,
        userName: row.userName,
        platformAdmin: row.platformAdmin === 1,
        teams: new Map(memberships.map((membership) => [membership.team, membership.role as TeamRole])),
        tokenId: row.tokenId,
        tokenName: row.tokenName,
        tokenExpiresAt: row.expiresAt,
        scope: row.scope,
      };
    },

    whoami({ principal }) {
      return {
        user: { id: principal.userId, name: principal.userName, platformAdmin: principal.platformAdmin },
        memberships: [...principal.teams]
          .map(([team, role]) => ({ team, role }))
          .sort((a, b) => a.team.localeCompare(b.team)),
        token: { id: principal.tokenId, name: principal.tokenName, expiresAt: principal.tokenExpiresAt },
      };
    },

    async listTeams({ principal }) {
      const names = principal.platformAdmin
        ? (await db.selectFrom('teams').select('name').orderBy('name').execute()).map((row) => row.name)
        : [...principal.teams.keys()].sort();
      const teams = await Promise.all(names.map((name) => loadTeam(name)));
      return teams.filter((team): team is Team => team !== undefined);
    },

    async getTeam(actor, name) {
      const team = canSeeTeam(actor.principal, name) ? await loadTeam(name) : undefined;
      if (!team) throw notFound('team', name);
      return team;
    },

    async createTeam(actor, name) {
      if (!actor.principal.platformAdmin) {
        await refuse(
          actor,
          'team.create',
          `team/${name}`,
          `only platform-admins create teams; ask a platform-admin to run \`aicloud teams create ${name}\``,
        );
      }
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('teams')
          .select('id')
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing) throw new AppError('conflict', `team '${name}' already exists`);
        await trx
          .insertInto('teams')
          .values({ id: newId('team'), name, created_at: isoNow(clock) })
          .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'team.created',
          resource: `team/${name}`,
          team: name,
          outcome: 'success',
          requestId: actor.requestId,
        });
      });
      return (await loadTeam(name))!;
    },

    async addMember(actor, teamName, request) {
      if (!actor.principal.platformAdmin) {
        if (!canSeeTeam(actor.principal, teamName)) throw notFound('team', teamName);
        await refuse(
          actor,
          'team.add_member',
          `team/${teamName}`,
          `only platform-admins manage team membership; ask a platform-admin to run \`aicloud teams add-member ${teamName} ${request.user}\``,
        );
      }
      await db.transaction().execute(async (trx) => {
        const team = await trx
          .selectFrom('teams')
          .select('id')
          .where('name', '=', teamName)
          .executeTakeFirst();
        if (!team) throw notFound('team', teamName);
        const existingUser = await trx
          .selectFrom('users')
          .select(['id', 'name'])
          .where('name', '=', request.user)
          .executeTakeFirst();
        const user =
          existingUser ?? (await createUserInTrx(trx, actor.principal.userName, { name: request.user }));
        const membership = await trx
          .selectFrom('memberships')
          .select('role')
          .where('team_id', '=', team.id)
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        if (membership?.role === request.role) {
          throw new AppError('conflict', `${request.user} is already a ${request.role} of ${teamName}`);
        }
        if (membership) {
          await trx
            .updateTable('memberships')
            .set({ role: request.role })
            .where('team_id', '=', team.id)
            .where('user_id', '=', user.id)
            .execute();
        } else {
          await trx
            .insertInto('memberships')
            .values({ team_id: team.id, user_id: user.id, role: request.role, created_at: isoNow(clock) })
            .execute();
        }
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'team.member_added',
          resource: `team/${teamName}`,
          team: teamName,
          outcome: 'success',
          requestId: actor.requestId,
          details: { user: request.user, role: request.role, previousRole: membership?.role ?? null },
        });
      });
      return (await loadTeam(teamName))!;
    },

    async createToken(actor, request) {
      const hit = refusingHit(
        checkPolicy(
          deps.authorizer,
          createKeyRequest(actor, { kind: 'api_token', id: `user/${actor.principal.userName}` }),
        ),
      );
      if (hit) await refuse(actor, 'token.create', `user/${actor.principal.userName}`, hit.reason);
      const expiresAt = request.expiresIn
        ? new Date(clock.now() + parseDuration(request.expiresIn, 'expiresIn') * 1000).toISOString()
        : null;
      return db.transaction().execute(async (trx) => {
        const created = await createTokenInTrx(trx, actor.principal.userId, {
          name: request.name,
          expiresAt,
        });
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'token.created',
          resource: `token/${created.id}`,
          outcome: 'success',
          requestId: actor.requestId,
          details: { name: created.name, expiresAt },
        });
        return created;
      });
    },

    async listTokens({ principal }) {
      const rows = await db
        .selectFrom('api_tokens')
        .selectAll()
        .where('user_id', '=', principal.userId)
        .where('scope', 'is', null)
        .orderBy('created_at')
        .execute();
      return rows.map(toTokenInfo);
    },

    async revokeToken(actor, id) {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('api_tokens')
          .selectAll()
          .where('id', '=', id)
          .where('user_id', '=', actor.principal.userId)
          .executeTakeFirst();
        if (!row) throw notFound('token', id);
        if (row.revoked_at)
          throw new AppError('conflict', `token ${id} was already revoked at ${row.revoked_at}`);
        const revokedAt = isoNow(clock);
        await trx.updateTable('api_tokens').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'token.revoked',
          resource: `token/${id}`,
          outcome: 'success',
          requestId: actor.requestId,
        });
        return toTokenInfo({ ...row, revoked_at: revokedAt });
      });
    },
  };
}
