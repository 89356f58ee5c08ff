import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import type { Store } from '../store/open-store.ts';
import { GPU_HOLDING_STATES } from './team-usage.ts';

/** Admits queued jobs in order as quota and GPUs free up; one transaction per tick. Returns how many. */
export function createAdmissionController(deps: { store: Store; audit: AuditService; clock: Clock }) {
  const { store, audit, clock } = deps;
  return {
    async tick(): Promise<number> {
      return store.db.transaction().execute(async (trx) => {
        const queued = await trx
          .selectFrom('jobs')
          .select(['id', 'team', 'gpus', 'gpu_type'])
          .where('status', '=', 'queued')
          .orderBy('created_at')
          .orderBy('id')
          .execute();
        if (queued.length === 0) return 0;
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
        const blocked = new Set<string>();
        const admitted: { id: string; team: string }[] = [];
        for (const job of queued) {
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
          admitted.push({ id: job.id, team: job.team });
        }
        const now = isoNow(clock);
        for (let start = 0; start < admitted.length; start += 500) {
          const ids = admitted.slice(start, start + 500).map((job) => job.id);
          await trx
            .updateTable('jobs')
            .set({ status: 'admitted', admitted_at: now, reasons: '[]' })
            .where('id', 'in', ids)
            .execute();
        }
        for (const job of admitted) {
          await audit.append(trx, {
            actor: 'system',
            action: 'job.admitted',
            resource: `job/${job.id}`,
            team: job.team,
            outcome: 'allow',
            details: { from: 'queued' },
          });
        }
        return admitted.length;
      });
    },
  };
}
