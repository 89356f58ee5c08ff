import type { Insertable, Transaction } from 'kysely';
import { type AuditService, auditHash } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { GPU_HOLDING_STATES } from './team-usage.ts';

/** Rows per multi-row statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 500;

interface Candidate {
  id: string;
  team: string;
  gpus: number;
  gpu_type: string | null;
  created_at: string;
}

/**
 * Admits queued jobs in order as quota and GPUs free up; one transaction per tick. Returns how many.
 *
 * Queues are strict FIFO per team and GPU type, ordered by (created_at, id); capacity of a GPU type is
 * shared across teams in that same global order. A tick reads only the heads of the queues that can move:
 * every queued job needs at least one GPU, so a queue with room for R GPUs (the smaller of its quota left and
 * its type's free GPUs) can admit at most its first R jobs; the rest cannot move this tick and are not read.
 */
export function createAdmissionController(deps: { store: Store; audit: AuditService; clock: Clock }) {
  const { store, clock } = deps;
  return {
    async tick(): Promise<number> {
      return store.db.transaction().execute(async (trx) => {
        // One pass over the queued rows inside the database: which queues wait, how long, the smallest ask.
        const queues = await trx
          .selectFrom('jobs')
          .select([
            'team',
            'gpu_type',
            (eb) => eb.fn.countAll<number>().as('waiting'),
            (eb) => eb.fn.min<number>('gpus').as('smallest'),
          ])
          .where('status', '=', 'queued')
          .groupBy(['team', 'gpu_type'])
          .execute();
        if (queues.length === 0) return 0;
        const holding = await trx
          .selectFrom('jobs')
          .select(['team', 'gpu_type', (eb) => eb.fn.sum<number>('gpus').as('gpus')])
          .where('status', 'in', [...GPU_HOLDING_STATES])
          .groupBy(['team', 'gpu_type'])
          .execute();
        const quotas = await trx.selectFrom('quotas').selectAll().execute();
        const inventory = await trx
          .selectFrom('gpus')
          .select(['gpu_type', (eb) => eb.fn.countAll<number>().as('count')])
          .groupBy('gpu_type')
          .execute();
        const teamUsed = new Map<string, number>();
        const typeUsed = new Map<string, number>();
        for (const row of holding) {
          const key = `${row.team}\u0000${row.gpu_type}`;
          teamUsed.set(key, Number(row.gpus));
          typeUsed.set(row.gpu_type ?? '', (typeUsed.get(row.gpu_type ?? '') ?? 0) + Number(row.gpus));
        }
        const nominal = new Map(quotas.map((row) => [`${row.team}\u0000${row.gpu_type}`, row.nominal]));
        const capacity = new Map(inventory.map((row) => [row.gpu_type, Number(row.count)]));

        // The heads of the queues that can move, merged back into the one global order.
        const candidates: Candidate[] = [];
        for (const queue of queues) {
          const key = `${queue.team}\u0000${queue.gpu_type}`;
          const type = queue.gpu_type ?? '';
          const limit = nominal.get(key);
          const quotaRoom = limit === undefined ? Number.POSITIVE_INFINITY : limit - (teamUsed.get(key) ?? 0);
          const room = Math.min(quotaRoom, (capacity.get(type) ?? 0) - (typeUsed.get(type) ?? 0));
          // A job asking for no GPU always fits, so such a queue is read whole (none is queued in practice).
          const zeroAsks = Number(queue.smallest) <= 0;
          if (room <= 0 && !zeroAsks) continue;
          let heads = trx
            .selectFrom('jobs')
            .select(['id', 'team', 'gpus', 'gpu_type', 'created_at'])
            .where('status', '=', 'queued')
            .where('team', '=', queue.team)
            .orderBy('created_at')
            .orderBy('id');
          heads =
            queue.gpu_type === null
              ? heads.where('gpu_type', 'is', null)
              : heads.where('gpu_type', '=', queue.gpu_type);
          if (!zeroAsks) heads = heads.limit(Math.min(room, Number(queue.waiting)));
          candidates.push(...(await heads.execute()));
        }
        candidates.sort((left, right) =>
          left.created_at < right.created_at
            ? -1
            : left.created_at > right.created_at
              ? 1
              : left.id < right.id
                ? -1
                : left.id > right.id
                  ? 1
                  : 0,
        );

        const blocked = new Set<string>();
        const fitting: string[] = [];
        for (const job of candidates) {
          const key = `${job.team}\u0000${job.gpu_type}`;
          if (blocked.has(key)) continue;
          const type = job.gpu_type ?? '';
          const used = teamUsed.get(key) ?? 0;
          const limit = nominal.get(key);
          const fitsQuota = limit === undefined || used + job.gpus <= limit;
          const fitsCapacity = (typeUsed.get(type) ?? 0) + job.gpus <= (capacity.get(type) ?? 0);
          if (!fitsQuota || !fitsCapacity) {
            // Strict FIFO per team and GPU type: nobody overtakes the head of the queue.
            blocked.add(key);
            continue;
          }
          teamUsed.set(key, used + job.gpus);
          typeUsed.set(type, (typeUsed.get(type) ?? 0) + job.gpus);
          fitting.push(job.id);
        }
        if (fitting.length === 0) return 0;
        const now = isoNow(clock);
        const admitted: { id: string; team: string }[] = [];
        for (let start = 0; start < fitting.length; start += CHUNK) {
          // Still queued: a job cancelled meanwhile (PostgreSQL) stays cancelled and is not audited as admitted.
          const updated = await trx
            .updateTable('jobs')
            .set({ status: 'admitted', admitted_at: now, reasons: '[]' })
            .where('id', 'in', fitting.slice(start, start + CHUNK))
            .where('status', '=', 'queued')
            .returning(['id', 'team'])
            .execute();
          admitted.push(...updated);
        }
        if (admitted.length === 0) return 0;
        await appendAdmitted(store, trx, now, admitted);
        return admitted.length;
      });
    },
  };
}

/**
 * One `job.admitted` audit record per admitted job, appended in the caller's transaction as
 * `AuditService.append` would append them one by one (same content, same hash chain, the head row locked on
 * PostgreSQL), but in a few multi-row statements instead of three statements per record.
 */
async function appendAdmitted(
  store: Store,
  trx: Transaction<Database>,
  time: string,
  jobs: { id: string; team: string }[],
): Promise<void> {
  let headQuery = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
  if (store.dialect === 'postgres') headQuery = headQuery.forUpdate();
  const head = await headQuery.executeTakeFirstOrThrow();
  let seq = head.seq;
  let prevHash = head.hash;
  const details = JSON.stringify({ from: 'queued' });
  const rows: Insertable<Database['audit_records']>[] = jobs.map((job) => {
    const content = {
      id: newId('aud'),
      time,
      actor: 'system',
      action: 'job.admitted',
      resource: `job/${job.id}`,
      team: job.team,
      outcome: 'allow',
      request_id: null,
      details,
      prev_hash: prevHash,
    };
    seq += 1;
    prevHash = auditHash(content);
    return { ...content, seq, hash: prevHash };
  });
  for (let start = 0; start < rows.length; start += CHUNK) {
    await trx
      .insertInto('audit_records')
      .values(rows.slice(start, start + CHUNK))
      .execute();
  }
  await trx.updateTable('audit_head').set({ seq, hash: prevHash }).where('id', '=', 1).execute();
}
