import type { Insertable, Transaction } from 'kysely';
import type { Clock } from '../clock.ts';
import { isoNow } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Database } from '../store/schema.ts';

/** The spend categories of the bill. */
export type UsageCategory = 'training' | 'inference' | 'notebooks' | 'storage';

/** One usage record to append: the rate is recorded with it so later price changes never rewrite history. */
export interface UsageEntry {
  team: string;
  user: string;
  project?: string | null;
  category: UsageCategory;
  /** What was used: `gpu:A100`, `cpu`, `tokens_in:legal-answerer`, `storage`. */
  resource: string;
  quantity: number;
  /** `gpu_second`, `cpu_second`, `token`, `gb_hour`. */
  unit: string;
  /** Micro-dollars per unit. */
  rateMicros: number;
  sourceKind: 'job' | 'notebook' | 'endpoint' | 'storage' | 'provider';
  sourceId: string;
  windowStart: string;
  windowEnd: string;
}

/** Appends usage rows inside the caller's transaction and returns the total cost in micro-dollars. */
export async function appendUsage(
  trx: Transaction<Database>,
  clock: Clock,
  entries: UsageEntry[],
): Promise<number> {
  if (entries.length === 0) return 0;
  const createdAt = isoNow(clock);
  const rows: Insertable<Database['usage_ledger']>[] = entries.map((entry) => ({
    id: newId('use'),
    team: entry.team,
    user_name: entry.user,
    project: entry.project ?? null,
    category: entry.category,
    resource: entry.resource,
    quantity: entry.quantity,
    unit: entry.unit,
    rate_micros: entry.rateMicros,
    cost_micros: Math.round(entry.quantity * entry.rateMicros),
    source_kind: entry.sourceKind,
    source_id: entry.sourceId,
    window_start: entry.windowStart,
    window_end: entry.windowEnd,
    created_at: createdAt,
  }));
  await trx.insertInto('usage_ledger').values(rows).execute();
  return rows.reduce((sum, row) => sum + row.cost_micros, 0);
}

/** The spend category of a product kind. */
export function categoryOfKind(kind: string): UsageCategory {
  if (kind === 'notebook') return 'notebooks';
  if (kind === 'endpoint' || kind === 'batch-inference') return 'inference';
  return 'training';
}
