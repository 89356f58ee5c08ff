import { join } from 'node:path';
import type { NotebookLoginUrl } from '@aicloud/contracts';
import type { Kysely } from 'kysely';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import type { Actor } from '../identity/principal.ts';
import type { Database } from '../store/schema.ts';
import type { NotebookLifecycle } from './notebook-lifecycle.ts';
import type { NotebookRow } from './notebook-record.ts';
import { createNotebookSessions, NOTEBOOK_COOKIE, SESSION_TTL_MS } from './notebook-sessions.ts';

/** Where the proxy sends an authorized request. */
export interface NotebookProxyTarget {
  notebookId: string;
  host: string;
  port: number;
  /** Jupyter's token: the proxy sends it as `Authorization: token …`; it never reaches the browser. */
  token: string;
  userName: string;
}

/** Credentials a proxied request came with. */
export interface NotebookCredentials {
  /** Value of the platform's notebook cookie. */
  cookie?: string | null | undefined;
  /** An API token from `Authorization: Bearer …`. */
  bearer?: string | null | undefined;
}

/** The session cookie a redeemed login ticket sets. */
export interface NotebookSessionCookie {
  name: string;
  value: string;
  path: string;
  maxAgeSeconds: number;
}

/** What access checks need. */
export interface NotebookAccessDeps {
  db: Kysely<Database>;
  audit: AuditService;
  clock: Clock;
  identity: IdentityService;
  lifecycle: NotebookLifecycle;
  /** The session key lives under `<dataDir>/notebooks/`. */
  dataDir: string;
  /** The server's own URL, for login links. */
  serverUrl: () => string;
}

/** Who may open a notebook: one-time login tickets, session cookies, and the proxy's per-request check. */
export interface NotebookAccess {
  /** A one-time, short-lived URL that signs a browser in to the notebook (team members only). */
  loginUrl(actor: Actor, row: NotebookRow): Promise<NotebookLoginUrl>;
  /** Trades a login ticket for the session cookie of one notebook; throws `unauthenticated`. */
  redeemTicket(id: string, ticket: string): Promise<NotebookSessionCookie>;
  /** Checks a proxied request's credentials and answers where Jupyter is; throws 401/404/503 errors. */
  authorizeProxy(id: string, credentials: NotebookCredentials): Promise<NotebookProxyTarget>;
}

/** Creates the access checks; the session key file is created on first use. */
export function createNotebookAccess(deps: NotebookAccessDeps): NotebookAccess {
  const { db, audit, clock, identity, lifecycle } = deps;
  const sessions = createNotebookSessions(join(deps.dataDir, 'notebooks', 'session.key'));
  /**
   * Where a running notebook's Jupyter is, briefly cached: `jupyter:<notebook>` → its address and team. Who
   * may use it (the session's token, team membership) is checked on every request, never cached.
   */
  const accessCache = new Map<
    string,
    { target: Omit<NotebookProxyTarget, 'userName'>; team: string; until: number }
  >();
  lifecycle.onEnded((id) => {
    for (const key of accessCache.keys()) if (key.endsWith(`:${id}`)) accessCache.delete(key);
  });

  /** Whether an API token is still the user's, unrevoked and unexpired (one lookup by primary key). */
  async function tokenValid(userId: string, tokenId: string): Promise<boolean> {
    const token = await db
      .selectFrom('api_tokens')
      .select(['user_id', 'revoked_at', 'expires_at', 'scope'])
      .where('id', '=', tokenId)
      .executeTakeFirst();
    return (
      token !== undefined &&
      token.user_id === userId &&
      token.revoked_at === null &&
      token.scope === null &&
      (token.expires_at === null || token.expires_at > isoNow(clock))
    );
  }

  async function memberOf(userId: string, team: string): Promise<string | null> {
    const row = await db
      .selectFrom('memberships')
      .innerJoin('teams', 'teams.id', 'memberships.team_id')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('users.name')
      .where('memberships.user_id', '=', userId)
      .where('teams.name', '=', team)
      .executeTakeFirst();
    return row?.name ?? null;
  }

  /** The user a proxied request acts for, from a bearer token or a session cookie. */
  async function userOf(id: string, credentials: NotebookCredentials): Promise<string> {
    if (credentials.bearer) {
      const principal = await identity.authenticate(credentials.bearer);
      if (principal.scope) throw notFound('notebook', id);
      return principal.userId;
    }
    if (credentials.cookie) {
      const verified = sessions.verifyCookie(id, credentials.cookie, clock.now());
      if (!verified) {
        throw new AppError(
          'unauthenticated',
          'your notebook session is invalid or expired; open the notebook again: aicloud notebooks open ID',
        );
      }
      // The session ends with the API token that opened it (revoked or expired).
      if (!(await tokenValid(verified.userId, verified.tokenId))) {
        throw new AppError(
          'unauthenticated',
          `your notebook session ended: the API token that opened it was revoked or expired; sign in again and run aicloud notebooks open ${id}`,
        );
      }
      return verified.userId;
    }
    throw new AppError(
      'unauthenticated',
      `sign in to this notebook first: aicloud notebooks open ${id} prints a one-time login URL`,
    );
  }

  return {
    async loginUrl(actor, row) {
      const id = row.id;
      if (actor.principal.scope) throw new AppError('forbidden', 'a scoped token cannot open notebooks');
      if (!actor.principal.teams.has(row.team)) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'notebook.login_url',
          resource: `notebook/${id}`,
          team: row.team,
          outcome: 'deny',
          requestId: actor.requestId,
        });
        throw new AppError('forbidden', `only members of team ${row.team} can open notebook ${id}`);
      }
      if (row.status !== 'running' && row.status !== 'starting') {
        throw new AppError(
          'conflict',
          `notebook ${id} is ${row.status}; its files are kept under ${row.work_dir}; start a new one: aicloud notebooks create`,
        );
      }
      const { ticket, expiresAt } = sessions.issueTicket(
        id,
        { userId: actor.principal.userId, tokenId: actor.principal.tokenId },
        clock.now(),
      );
      await audit.record({
        actor: actor.principal.userName,
        action: 'notebook.login_url',
        resource: `notebook/${id}`,
        team: row.team,
        outcome: 'success',
        requestId: actor.requestId,
        details: { expiresAt: new Date(expiresAt).toISOString() },
      });
      const path = `/notebooks/${id}/login?ticket=${ticket}`;
      return {
        url: `${deps.serverUrl().replace(/\/+$/, '')}${path}`,
        path,
        expiresAt: new Date(expiresAt).toISOString(),
      };
    },

    async redeemTicket(id, ticket) {
      const redeemed = sessions.redeemTicket(id, ticket, clock.now());
      const row = redeemed ? await lifecycle.load(id) : undefined;
      const userName =
        row && redeemed && (await tokenValid(redeemed.userId, redeemed.tokenId))
          ? await memberOf(redeemed.userId, row.team)
          : null;
      if (!redeemed || !row || !userName) {
        throw new AppError(
          'unauthenticated',
          'this notebook login link is invalid, used or expired; get a new one: aicloud notebooks open ID',
        );
      }
      const cookie = sessions.sessionCookie(id, redeemed, clock.now());
      await audit.record({
        actor: userName,
        action: 'notebook.login',
        resource: `notebook/${id}`,
        team: row.team,
        outcome: 'success',
      });
      return {
        name: NOTEBOOK_COOKIE,
        value: cookie.value,
        path: `/notebooks/${id}/`,
        maxAgeSeconds: Math.floor(SESSION_TTL_MS / 1000),
      };
    },

    async authorizeProxy(id, credentials) {
      const userId = await userOf(id, credentials);
      const key = `jupyter:${id}`;
      const now = clock.now();
      let cached = accessCache.get(key);
      if (!cached || cached.until <= now) {
        const row = await lifecycle.load(id);
        if (!row) throw notFound('notebook', id);
        const userName = await memberOf(userId, row.team);
        if (!userName) throw notFound('notebook', id);
        if (row.status !== 'running' || !row.host || !row.port) {
          throw new AppError(
            'unavailable',
            `notebook ${id} is ${row.status}${row.stop_message ? ` (${row.stop_message})` : ''}`,
          );
        }
        cached = {
          target: { notebookId: id, host: row.host, port: row.port, token: lifecycle.tokenOf(row) },
          team: row.team,
          until: now + 2000,
        };
        accessCache.set(key, cached);
        return { ...cached.target, userName };
      }
      // Membership is checked on every request: removing a user from the team ends their access at once.
      const userName = await memberOf(userId, cached.team);
      if (!userName) throw notFound('notebook', id);
      return { ...cached.target, userName };
    },
  };
}
