import type { Product } from '@aicloud/contracts';
import type { Kysely, Transaction } from 'kysely';
import { inApprovedLocation, lakePlace } from '../datasets/approved-locations.ts';
import { datasetTeam, isEncrypted, lakeView } from '../datasets/dataset-service.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { nonJobGpusByType } from '../workloads/gpu-ledger.ts';
import { type BudgetState, gpusInUse, readBudget } from './team-usage.ts';

/** What a job asks for, as admission sees it. */
export interface JobAsk {
  team: string;
  product: Product;
  gpus: number;
  gpuType: string | null;
  datasets: string[];
  maxRuntimeSeconds: number;
  spot: boolean;
}

/** Everything admission looked up before asking the policy engine. */
export interface AdmissionFacts {
  budget: BudgetState | null;
  quota: { gpuType: string; nominal: number | null; used: number } | null;
  capacity: { total: number; used: number } | null;
  datasets: {
    unregistered: string[];
    unclassified: string[];
    outsideApprovedLocation: string[];
    unencrypted: string[];
    otherTeam: string[];
  };
  exceptions: string[];
  /** Whether earlier jobs of the same team and GPU type are already waiting (strict FIFO). */
  queueAhead: number;
}

/** Gathers the facts for one admission inside the caller's transaction (the budget row is locked there). */
export async function gatherFacts(
  store: Store,
  trx: Transaction<Database>,
  ask: JobAsk,
  now: number,
): Promise<AdmissionFacts> {
  const budget = await readBudget(store, trx, ask.team, now);
  const rows =
    ask.datasets.length > 0
      ? await trx.selectFrom('datasets').selectAll().where('path', 'in', ask.datasets).execute()
      : [];
  const byPath = new Map(rows.map((row) => [row.path, row]));
  const lake = await lakeView(trx);
  const datasets: AdmissionFacts['datasets'] = {
    unregistered: [],
    unclassified: [],
    outsideApprovedLocation: [],
    unencrypted: [],
    otherTeam: [],
  };
  for (const path of ask.datasets) {
    const row = byPath.get(path);
    if (!row) {
      datasets.unregistered.push(path);
      if (datasetTeam(path) !== ask.team) datasets.otherTeam.push(path);
      continue;
    }
    // Facts, not the registrant's claims: the classification and encryption a platform-admin attested (or
    // the platform knows), and where the location lies now, re-resolved (a link made after registration
    // into another team's part of the lake makes it that team's data).
    if (!row.classification) datasets.unclassified.push(path);
    if (!inApprovedLocation(row.location, lake.approved, row.team))
      datasets.outsideApprovedLocation.push(path);
    if (!isEncrypted(row, lake)) datasets.unencrypted.push(path);
    const place = lakePlace(row.location, lake.approved);
    const dataTeam = place?.lake ? place.team : null;
    if (row.team !== ask.team || (dataTeam !== null && dataTeam !== ask.team)) datasets.otherTeam.push(path);
  }
  let quota: AdmissionFacts['quota'] = null;
  let capacity: AdmissionFacts['capacity'] = null;
  let queueAhead = 0;
  if (ask.gpus > 0 && ask.gpuType) {
    const gpuType = ask.gpuType;
    const nominal = await trx
      .selectFrom('quotas')
      .select('nominal')
      .where('team', '=', ask.team)
      .where('gpu_type', '=', gpuType)
      .executeTakeFirst();
    quota = {
      gpuType,
      nominal: nominal?.nominal ?? null,
      used: await gpusInUse(trx, { team: ask.team, gpuType }),
    };
    const total = await trx
      .selectFrom('gpus')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('gpu_type', '=', gpuType)
      .executeTakeFirstOrThrow();
    const others = (await nonJobGpusByType(trx)).get(gpuType) ?? 0;
    capacity = { total: Number(total.count), used: (await gpusInUse(trx, { gpuType })) + others };
    const ahead = await trx
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('team', '=', ask.team)
      .where('gpu_type', '=', gpuType)
      .where('status', '=', 'queued')
      .executeTakeFirstOrThrow();
    queueAhead = Number(ahead.count);
  }
  return {
    budget,
    quota,
    capacity,
    datasets,
    exceptions: await activeExceptions(trx, ask.team, now),
    queueAhead,
  };
}

/** Ids of the policies a team holds an active, time-boxed exception for. */
export async function activeExceptions(
  db: Kysely<Database> | Transaction<Database>,
  team: string,
  now: number,
): Promise<string[]> {
  const rows = await db
    .selectFrom('policy_exceptions')
    .select('policy_id')
    .where('team', '=', team)
    .where('expires_at', '>', new Date(now).toISOString())
    .execute();
  return rows.map((row) => row.policy_id);
}
