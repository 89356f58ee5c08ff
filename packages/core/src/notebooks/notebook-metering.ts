import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from '../store/schema.ts';
import { accrue } from '../workloads/workload-meter.ts';
import type { NotebookRow } from './notebook-record.ts';
import { ACTIVE_NOTEBOOK_STATES } from './notebook-state.ts';

/** Accrues a notebook's running time from where metering stopped up to `until`, in the caller's transaction. */
export async function meterNotebook(
  trx: Transaction<Database>,
  clock: Clock,
  row: NotebookRow,
  until: number,
): Promise<number> {
  const from = Date.parse(row.metered_until ?? row.started_at ?? row.created_at);
  if (until <= from) return row.cost_micros;
  const cost = await accrue(
    trx,
    clock,
    {
      kind: 'notebook',
      id: row.id,
      team: row.team,
      user: row.owner,
      project: row.name,
      category: 'notebooks',
      placement: { gpus: row.gpus, gpuType: row.gpu_type, spot: false },
      rateMicros: row.rate_micros,
    },
    from,
    until,
  );
  const total = row.cost_micros + cost;
  await trx
    .updateTable('notebooks')
    .set({ cost_micros: total, metered_until: new Date(until).toISOString() })
    .where('id', '=', row.id)
    .execute();
  return total;
}

/** Meters every started, active notebook whose metering is at least `intervalMs` behind. */
export async function meterDueNotebooks(
  db: Kysely<Database>,
  clock: Clock,
  intervalMs: number,
): Promise<void> {
  const due = new Date(clock.now() - intervalMs).toISOString();
  const unmetered = await db
    .selectFrom('notebooks')
    .select('id')
    .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
    .where('external_id', 'is not', null)
    .where('metered_until', '<=', due)
    .execute();
  for (const { id } of unmetered) {
    const until = clock.now();
    await db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('notebooks')
        .selectAll()
        .where('id', '=', id)
        .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
        .executeTakeFirst();
      if (current) await meterNotebook(trx, clock, current, until);
    });
  }
}
