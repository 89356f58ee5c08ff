import { randomBytes } from 'node:crypto';
import type { Insertable, Transaction } from 'kysely';
import { type AuditService, auditHash } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { nonJobGpusByType } from '../workloads/gpu-ledger.ts';
import { moveJobs } from '../workloads/job-state.ts';
import { GPU_HOLDING_STATES } from './team-usage.ts';

/** Rows per multi-row statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 500;
/** Fewest queued rows read per page. */
const MIN_PAGE = 64;

/**
 * Admits queued jobs in order as quota and GPUs free up; one transaction per tick. Returns how many.
 *
 * Queues are strict FIFO per team and GPU type, in (created_at, id) order; the GPUs of a type are shared
 * across teams in that same order. A tick walks the queued jobs in that order, a page at a time, and reads
 * only rows that can still move: a queued job always asks for at least one GPU of a type (admission never
 * queues a job without GPUs), so jobs of a type with no free GPU left, and jobs behind a queue head that
 * did not fit, are filtered out in the database rather than read. The walk ends when no GPU is free or no
 * row is left; with the queue heads admitted, that is usually one short page, however long the queues.
 */
export function createAdmissionController(deps: { store: Store; audit: AuditService; clock: Clock }) {
  const { store, clock } = deps;
  return {
    async tick(): Promise<number> {
      return store.db.transaction().execute(async (trx) => {
        const holding = await trx
          .selectFrom('jobs')
          .select(['team', 'gpu_type', (eb) => eb.fn.sum<number>('gpus').as('gpus')])
          .where('status', 'in', [...GPU_HOLDING_STATES])
          .groupBy(['team', 'gpu_type'])
          .execute();
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
        // GPUs that notebooks and replicas hold are not there for jobs.
        for (const [type, gpus] of await nonJobGpusByType(trx)) {
          typeUsed.set(type, (typeUsed.get(type) ?? 0) + gpus);
        }
        const capacity = new Map(inventory.map((row) => [row.gpu_type, Number(row.count)]));
        const freeTypes = () =>
          [...capacity]
            .filter(([type, total]) => total - (typeUsed.get(type) ?? 0) > 0)
            .map(([type]) => type);
        let types = freeTypes();
        if (types.length === 0) return 0;
        const quotas = await trx.selectFrom('quotas').selectAll().execute();
        const nominal = new Map(quotas.map((row) => [`${row.team}\u0000${row.gpu_type}`, row.nominal]));

        const blocked = new Map<string, { team: string; gpuType: string }>();
        const fitting: string[] = [];
        let after: { createdAt: string; id: string } | null = null;
        while (types.length > 0) {
          const free = types.reduce(
            (sum, type) => sum + (capacity.get(type) ?? 0) - (typeUsed.get(type) ?? 0),
            0,
          );
          const pageSize = Math.max(MIN_PAGE, 2 * free);
          let page = trx
            .selectFrom('jobs')
            .select(['id', 'team', 'gpus', 'gpu_type', 'created_at'])
            .where('status', '=', 'queued')
            .where('gpu_type', 'in', types)
            .orderBy('created_at')
            .orderBy('id')
            .limit(pageSize);
          if (blocked.size > 0) {
            const heads = [...blocked.values()];
            page = page.where((eb) =>
              eb.not(
                eb.or(
                  heads.map((head) =>
                    eb.and([eb('team', '=', head.team), eb('gpu_type', '=', head.gpuType)]),
                  ),
                ),
              ),
            );
          }
          if (after) {
            const { createdAt, id } = after;
            page = page
              .where('created_at', '>=', createdAt)
              .where((eb) =>
                eb.or([
                  eb('created_at', '>', createdAt),
                  eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)]),
                ]),
              );
          }
          const rows = await page.execute();
          for (const job of rows) {
            const key = `${job.team}\u0000${job.gpu_type}`;
            if (blocked.has(key)) continue;
            const type = job.gpu_type ?? '';
            const used = teamUsed.get(key) ?? 0;
            const limit = nominal.get(key);
            const fitsQuota = limit === undefined || used + job.gpus <= limit;
            const fitsCapacity = (typeUsed.get(type) ?? 0) + job.gpus <= (capacity.get(type) ?? 0);
            if (!fitsQuota || !fitsCapacity) {
              // Strict FIFO per team and GPU type: nobody overtakes the head of the queue.
              blocked.set(key, { team: job.team, gpuType: type });
              continue;
            }
            teamUsed.set(key, used + job.gpus);
            typeUsed.set(type, (typeUsed.get(type) ?? 0) + job.gpus);
            fitting.push(job.id);
          }
          const last = rows.at(-1);
          if (!last || rows.length < pageSize) break;
          after = { createdAt: last.created_at, id: last.id };
          types = freeTypes();
        }
        if (fitting.length === 0) return 0;
        const now = isoNow(clock);
        const updated = new Map<string, string>();
        for (let start = 0; start < fitting.length; start += CHUNK) {
          // On PostgreSQL a job cancelled meanwhile stays cancelled and is not audited as admitted. SQLite has one
          // writer, so nothing changed since the read; the status condition would make it walk the status index.
          const rows = await moveJobs(
            trx,
            fitting.slice(start, start + CHUNK),
            'admitted',
            { admitted_at: now, reasons: '[]' },
            { from: 'queued', checked: store.dialect === 'postgres' },
          );
          for (const row of rows) updated.set(row.id, row.team);
        }
        const admitted = fitting.flatMap((id) => {
          const team = updated.get(id);
          return team === undefined ? [] : [{ id, team }];
        });
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
  // Ids as newId('aud') makes them, from one draw of random bytes rather than one per record.
  const random = randomBytes(8 * jobs.length).toString('hex');
  const rows: Insertable<Database['audit_records']>[] = jobs.map((job, index) => {
    const content = {
      id: `aud_${random.slice(16 * index, 16 * index + 16)}`,
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
