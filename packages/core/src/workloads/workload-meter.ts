import type { Product } from '@aicloud/contracts';
import type { Transaction } from 'kysely';
import { appendUsage, type UsageCategory } from '../billing/ledger.ts';
import type { Clock } from '../clock.ts';
import { toMicros } from '../money.ts';
import type { Database } from '../store/schema.ts';

/** What a workload runs on, which is what it is priced by. */
export interface Placement {
  gpus: number;
  gpuType: string | null;
  spot: boolean;
}

/**
 * The one price rule of every workload: the product's hourly price of one GPU of the workload's type (or of
 * the CPU machine when it has no GPU), spot or on-demand, in micro-dollars per GPU-hour (or instance-hour).
 * It is read once, at admission, and stored on the workload: a later price change never re-prices work
 * already admitted, and the estimate the caller saw is the rate it pays.
 */
export function hourlyRateMicros(prices: Product['prices'], placement: Placement): number {
  const price = prices[placement.gpus > 0 ? (placement.gpuType ?? '') : 'cpu'];
  if (!price) return 0;
  return toMicros(placement.spot ? price.spot : price.onDemand);
}

/** The billable units of a placement: its GPUs, or one machine. */
export function unitsOf(placement: Placement): number {
  return Math.max(placement.gpus, 1);
}

/** The most a placement can cost over `seconds`, rounded up to a whole micro-dollar. */
export function estimateMicros(rateMicros: number, placement: Placement, seconds: number): number {
  return Math.ceil(rateMicros * unitsOf(placement) * (seconds / 3600));
}

/** One running workload as the meter sees it. */
export interface MeteredWorkload {
  kind: 'job' | 'notebook' | 'endpoint';
  /** The id the usage rows point at (a job, a notebook, an endpoint). */
  id: string;
  team: string;
  user: string;
  project: string | null;
  category: UsageCategory;
  placement: Placement;
  /** The rate fixed at admission (hourlyRateMicros). */
  rateMicros: number;
}

/**
 * Appends the usage of one workload between `from` and `until` (epoch ms) to the ledger, in the caller's
 * transaction, and returns its cost in micro-dollars. An `until` before `from` appends a correcting row with a
 * negative quantity (settling an end that the executor reports earlier than metering already reached): the
 * ledger stays append-only and the total equals runtime × rate. Equal times append nothing.
 */
export async function accrue(
  trx: Transaction<Database>,
  clock: Clock,
  workload: MeteredWorkload,
  from: number,
  until: number,
): Promise<number> {
  if (until === from) return 0;
  const { placement } = workload;
  const spot = placement.spot ? ':spot' : '';
  return appendUsage(trx, clock, [
    {
      team: workload.team,
      user: workload.user,
      project: workload.project,
      category: workload.category,
      resource: placement.gpus > 0 ? `gpu:${placement.gpuType}${spot}` : `cpu${spot}`,
      quantity: ((until - from) / 3_600_000) * unitsOf(placement),
      unit: placement.gpus > 0 ? 'gpu_hour' : 'instance_hour',
      rateMicros: workload.rateMicros,
      sourceKind: workload.kind,
      sourceId: workload.id,
      windowStart: new Date(Math.min(from, until)).toISOString(),
      windowEnd: new Date(Math.max(from, until)).toISOString(),
    },
  ]);
}
