import { createHash } from 'node:crypto';
import type { AuditOutcome, AuditQuery, AuditRecord, AuditVerifyResult } from '@aicloud/contracts';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { type Clock, isoNow } from '../clock.ts';
import { newId } from '../ids.ts';
import { GENESIS_HASH } from '../store/migrations.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';

/** What a caller appends; the service adds sequence, time, id and the chain hashes. */
export interface AuditEntry {
  actor: string;
  action: string;
  resource: string;
  team?: string | null;
  outcome: AuditOutcome;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/** Who may see which records when listing. */
export interface AuditScope {
  /** All records (platform-admins). */
  all: boolean;
  /** Records of these teams. */
  teams: string[];
  /** Records this actor made. */
  actor: string;
}

type Row = Selectable<Database['audit_records']>;
type Executor = Kysely<Database> | Transaction<Database>;

/** The hash-chained, append-only audit trail. */
export interface AuditService {
  /** Appends a record inside the caller's transaction, so a failed append fails the mutation. */
  append(trx: Transaction<Database>, entry: AuditEntry): Promise<AuditRecord>;
  /** Appends a record in a transaction of its own (authorization decisions that change nothing else). */
  record(entry: AuditEntry): Promise<AuditRecord>;
  /** Lists records, newest first, within what the scope may see. */
  list(query: AuditQuery, scope: AuditScope): Promise<AuditRecord[]>;
  /** Walks the whole chain and names the first record that was edited, removed or reordered. */
  verify(): Promise<AuditVerifyResult>;
}

/** Hash of one record's content chained to the hash before it. */
export function auditHash(row: Omit<Row, 'seq' | 'hash'>): string {
  const content = JSON.stringify([
    row.id,
    row.time,
    row.actor,
    row.action,
    row.resource,
    row.team,
    row.outcome,
    row.request_id,
    row.details,
    row.prev_hash,
  ]);
  return createHash('sha256').update(content).digest('hex');
}

function toRecord(row: Row): AuditRecord {
  return {
    seq: row.seq,
    id: row.id,
    time: row.time,
    actor: row.actor,
    action: row.action,
    resource: row.resource,
    team: row.team,
    outcome: row.outcome as AuditOutcome,
    requestId: row.request_id,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** Creates the audit service over the store. */
export function createAuditService(deps: { store: Store; clock: Clock }): AuditService {
  const { store, clock } = deps;

  async function append(trx: Transaction<Database>, entry: AuditEntry): Promise<AuditRecord> {
    let headQuery = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
    // SQLite serializes writers on its one connection; PostgreSQL needs the head row locked.
    if (store.dialect === 'postgres') headQuery = headQuery.forUpdate();
    const head = await headQuery.executeTakeFirstOrThrow();
    const content = {
      id: newId('aud'),
      time: isoNow(clock),
      actor: entry.actor,
      action: entry.action,
      resource: entry.resource,
      team: entry.team ?? null,
      outcome: entry.outcome,
      request_id: entry.requestId ?? null,
      details: JSON.stringify(entry.details ?? {}),
      prev_hash: head.hash,
    };
    const row: Row = { ...content, seq: head.seq + 1, hash: auditHash(content) };
    await trx.insertInto('audit_records').values(row).execute();
    await trx.updateTable('audit_head').set({ seq: row.seq, hash: row.hash }).where('id', '=', 1).execute();
    return toRecord(row);
  }

  async function findByHash(db: Executor, hash: string): Promise<Row | undefined> {
    return db.selectFrom('audit_records').selectAll().where('hash', '=', hash).executeTakeFirst();
  }

  return {
    append,

    record: (entry) => store.db.transaction().execute((trx) => append(trx, entry)),

    async list(query, scope) {
      let select = store.db.selectFrom('audit_records').selectAll();
      if (query.actor) select = select.where('actor', '=', query.actor);
      if (query.action) select = select.where('action', 'like', `${query.action.replaceAll('*', '%')}`);
      if (query.resource) select = select.where('resource', 'like', `${query.resource.replaceAll('*', '%')}`);
      if (query.since) select = select.where('time', '>=', new Date(query.since).toISOString());
      if (query.until) select = select.where('time', '<=', new Date(query.until).toISOString());
      if (!scope.all) {
        select = select.where((eb) =>
          eb.or([
            eb('actor', '=', scope.actor),
            ...(scope.teams.length > 0 ? [eb('team', 'in', scope.teams)] : []),
          ]),
        );
      }
      const rows = await select.orderBy('seq', 'desc').limit(query.limit).execute();
      return rows.map(toRecord);
    },

    async verify() {
      const pageSize = 1000;
      let expectedSeq = 1;
      let previous: Row | undefined;
      let checked = 0;
      for (;;) {
        const rows = await store.db
          .selectFrom('audit_records')
          .selectAll()
          .where('seq', '>=', expectedSeq)
          .orderBy('seq')
          .limit(pageSize)
          .execute();
        for (const row of rows) {
          if (row.seq !== expectedSeq) {
            return bad(
              checked,
              expectedSeq,
              null,
              'removed',
              `record #${expectedSeq} is missing: the chain jumps from #${expectedSeq - 1} to #${row.seq}`,
            );
          }
          const { seq: _seq, hash: _hash, ...content } = row;
          if (auditHash(content) !== row.hash) {
            return bad(
              checked,
              row.seq,
              row.id,
              'edited',
              `record #${row.seq} (${row.id}) was edited: its content no longer matches its hash`,
            );
          }
          const expectedPrev = previous?.hash ?? GENESIS_HASH;
          if (row.prev_hash !== expectedPrev) {
            const original = await findByHash(store.db, row.prev_hash);
            if (original) {
              return bad(
                checked,
                row.seq,
                row.id,
                'reordered',
                `record #${row.seq} (${row.id}) is out of order: it was written after ${original.id}, which now stands at #${original.seq}`,
              );
            }
            return bad(
              checked,
              row.seq - 1,
              previous?.id ?? null,
              'edited',
              `record #${row.seq} (${row.id}) does not chain to #${row.seq - 1}: that record was rewritten, or one between them was removed`,
            );
          }
          previous = row;
          expectedSeq += 1;
          checked += 1;
        }
        if (rows.length < pageSize) break;
      }
      const head = await store.db
        .selectFrom('audit_head')
        .select(['seq', 'hash'])
        .where('id', '=', 1)
        .executeTakeFirstOrThrow();
      if (head.seq !== checked || head.hash !== (previous?.hash ?? GENESIS_HASH)) {
        return bad(
          checked,
          checked + 1,
          null,
          'removed',
          `the chain ends at #${checked} but ${head.seq} records were written: the last ${head.seq - checked} record(s) were removed`,
        );
      }
      return { ok: true, checked, firstBad: null };
    },
  };
}

function bad(
  checked: number,
  seq: number,
  id: string | null,
  problem: 'edited' | 'removed' | 'reordered',
  message: string,
): AuditVerifyResult {
  return { ok: false, checked, firstBad: { seq, id, problem, message } };
}
