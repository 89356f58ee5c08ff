import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';
import type { SecretBox } from './secret-box.ts';

/** A secret as anyone may see it: never its value. */
export interface SecretInfo {
  team: string;
  name: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** Team secrets, encrypted at rest, injected into workloads, never returned. */
export interface SecretService {
  set(actor: Actor, team: string, name: string, value: string): Promise<SecretInfo>;
  list(actor: Actor, team: string): Promise<SecretInfo[]>;
  delete(actor: Actor, team: string, name: string): Promise<void>;
  /** Values for a workload of the team (the runner only; never through the API). */
  reveal(team: string, names: string[]): Promise<Record<string, string>>;
}

const NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;

/** Creates the secret service. */
export function createSecretService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
  box: SecretBox;
}): SecretService {
  const { store, audit, clock, box } = deps;
  const db = store.db;
  const aad = (team: string, name: string) => `${team}/${name}`;

  function check(actor: Actor, team: string, name?: string) {
    if (!canSeeTeam(actor.principal, team)) throw notFound('team', team);
    if (actor.principal.scope) throw new AppError('forbidden', 'a run token cannot manage secrets');
    if (name !== undefined && !NAME.test(name)) {
      throw new AppError(
        'invalid_input',
        `secret name '${name}' must be an environment variable name (A-Z, 0-9, _)`,
        {
          issues: [{ path: ['name'], message: 'A-Z, 0-9 and _, not starting with a digit' }],
        },
      );
    }
  }

  return {
    async set(actor, team, name, value) {
      check(actor, team, name);
      if (value.length === 0 || value.length > 64 * 1024)
        throw new AppError('invalid_input', 'a secret value must be 1 byte to 64 KiB');
      const now = isoNow(clock);
      const ciphertext = box.seal(value, aad(team, name));
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('secrets')
          .select('name')
          .where('team', '=', team)
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing)
          await trx
            .updateTable('secrets')
            .set({ ciphertext, updated_at: now })
            .where('team', '=', team)
            .where('name', '=', name)
            .execute();
        else
          await trx
            .insertInto('secrets')
            .values({
              team,
              name,
              ciphertext,
              created_by: actor.principal.userName,
              created_at: now,
              updated_at: now,
            })
            .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: existing ? 'secret.updated' : 'secret.created',
          resource: `secret/${team}/${name}`,
          team,
          outcome: 'success',
          requestId: actor.requestId,
        });
      });
      return (await this.list(actor, team)).find((secret) => secret.name === name)!;
    },

    async list(actor, team) {
      check(actor, team);
      const rows = await db
        .selectFrom('secrets')
        .select(['team', 'name', 'created_by', 'created_at', 'updated_at'])
        .where('team', '=', team)
        .orderBy('name')
        .execute();
      return rows.map((row) => ({
        team: row.team,
        name: row.name,
        createdBy: row.created_by,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      }));
    },

    async delete(actor, team, name) {
      check(actor, team, name);
      await db.transaction().execute(async (trx) => {
        const deleted = await trx
          .deleteFrom('secrets')
          .where('team', '=', team)
          .where('name', '=', name)
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) throw notFound('secret', name);
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'secret.deleted',
          resource: `secret/${team}/${name}`,
          team,
          outcome: 'success',
          requestId: actor.requestId,
        });
      });
    },

    async reveal(team, names) {
      if (names.length === 0) return {};
      const rows = await db
        .selectFrom('secrets')
        .select(['name', 'ciphertext'])
        .where('team', '=', team)
        .where('name', 'in', names)
        .execute();
      return Object.fromEntries(rows.map((row) => [row.name, box.open(row.ciphertext, aad(team, row.name))]));
    },
  };
}
