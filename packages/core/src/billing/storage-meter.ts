import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../clock.ts';
import { isoNow } from '../clock.ts';
import { jobPaths } from '../runner/job-paths.ts';
import type { Store } from '../store/open-store.ts';
import { HOUR_MS, iso } from './bill-window.ts';
import { billingSettings, gbHourRateMicros } from './billing-settings.ts';
import { appendUsage, type UsageEntry } from './ledger.ts';

/** What the storage meter needs. */
export interface StorageMeterDeps {
  store: Store;
  clock: Clock;
  dataDir: string;
}

/** Bytes one user of one team keeps in one kind of storage. */
export interface StoredBytes {
  team: string;
  user: string;
  /** `models` (registered model versions), `artifacts` (files under artifacts/<team>/) or `job_outputs`. */
  kind: 'models' | 'artifacts' | 'job_outputs';
  bytes: number;
}

/** How many missed hours a restart catches up at most (a week). */
export const MAX_CATCH_UP_HOURS = 168;
const GB = 1_000_000_000;
const labels: Record<StoredBytes['kind'], string> = {
  models: 'model artifacts',
  artifacts: 'artifacts',
  job_outputs: 'job outputs',
};

/** The last hour each store has accrued (saves a query per controller tick). */
const accruedUpTo = new WeakMap<Store, number>();

/** Sums the sizes of the regular files under a directory (symlinks are not followed); 0 when absent. */
export async function directoryBytes(dir: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else if (entry.isFile()) {
      try {
        total += (await lstat(path)).size;
      } catch {
        // Removed while we walked: it is no longer stored.
      }
    }
  }
  return total;
}

/**
 * What each team stores now: registered model versions (from `model_versions`, each content-addressed
 * copy counted once per team; without that table, the files under `<dataDir>/artifacts/<team>/`) and
 * the output folders of the team's jobs.
 */
export async function storedBytes(deps: StorageMeterDeps): Promise<StoredBytes[]> {
  const { store, dataDir } = deps;
  const result = new Map<string, StoredBytes>();
  const addBytes = (team: string, user: string, kind: StoredBytes['kind'], bytes: number) => {
    if (bytes <= 0) return;
    const key = `${team}\u0000${user}\u0000${kind}`;
    const current = result.get(key);
    if (current) current.bytes += bytes;
    else result.set(key, { team, user, kind, bytes });
  };
  const versions = await modelVersions(store);
  if (versions) {
    const seen = new Set<string>();
    for (const version of versions) {
      // Only versions whose files were fetched into the data dir are stored by the platform.
      const copy = version.artifact_dir ?? version.digest;
      if (!copy) continue;
      const key = `${version.team}\u0000${copy}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let files: { size?: unknown }[] = [];
      try {
        files = JSON.parse(version.files) as { size?: unknown }[];
      } catch {
        files = [];
      }
      const bytes = files.reduce((sum, file) => sum + (typeof file.size === 'number' ? file.size : 0), 0);
      addBytes(version.team, version.created_by, 'models', bytes);
    }
  } else {
    const root = join(dataDir, 'artifacts');
    let teams: string[] = [];
    try {
      teams = (await readdir(root, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name);
    } catch {
      teams = [];
    }
    for (const team of teams) addBytes(team, 'system', 'artifacts', await directoryBytes(join(root, team)));
  }
  const jobs = await store.db
    .selectFrom('jobs')
    .select(['id', 'team', 'owner'])
    .where('started_at', 'is not', null)
    .execute();
  for (const job of jobs)
    addBytes(job.team, job.owner, 'job_outputs', await directoryBytes(jobPaths(dataDir, job.id).outputDir));
  return [...result.values()].sort((a, b) =>
    `${a.team}/${a.kind}/${a.user}` < `${b.team}/${b.kind}/${b.user}` ? -1 : 1,
  );
}

/** Model versions with their team, or null where the registry's tables do not exist yet. */
async function modelVersions(store: Store) {
  try {
    return await store.db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .select([
        'models.team as team',
        'model_versions.created_by as created_by',
        'model_versions.files as files',
        'model_versions.digest as digest',
        'model_versions.artifact_dir as artifact_dir',
      ])
      .execute();
  } catch {
    return null;
  }
}

/**
 * Accrues stored bytes into the ledger once per completed hour, as `storage` usage in GB-hours at the
 * configured $/GB-month (the rate is recorded on each row). Each hour is marked in
 * `storage_meter_hours` in the same transaction as its ledger rows, so no hour is charged twice, also
 * across restarts and processes; after downtime the missed hours (at most a week) are caught up at
 * today's size. Returns the hours accrued.
 */
export async function storageTick(deps: StorageMeterDeps): Promise<number> {
  const { store, clock } = deps;
  const lastComplete = Math.floor(clock.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
  if (accruedUpTo.get(store) === lastComplete) return 0;
  const latest = await store.db
    .selectFrom('storage_meter_hours')
    .select((eb) => eb.fn.max('hour_start').as('hour'))
    .executeTakeFirst();
  const next = latest?.hour ? Date.parse(latest.hour) + HOUR_MS : lastComplete;
  const first = Math.max(next, lastComplete - (MAX_CATCH_UP_HOURS - 1) * HOUR_MS);
  if (first > lastComplete) {
    accruedUpTo.set(store, lastComplete);
    return 0;
  }
  const stored = await storedBytes(deps);
  const settings = await billingSettings(store.db);
  const rateMicros = gbHourRateMicros(settings.storageGbMonthUsd);
  const totalBytes = stored.reduce((sum, entry) => sum + entry.bytes, 0);
  let accrued = 0;
  for (let hour = first; hour <= lastComplete; hour += HOUR_MS) {
    const entries: UsageEntry[] = stored.map((entry) => ({
      team: entry.team,
      user: entry.user,
      project: labels[entry.kind],
      category: 'storage',
      resource: `storage:${entry.kind}`,
      quantity: entry.bytes / GB,
      unit: 'gb_hour',
      rateMicros,
      sourceKind: 'storage',
      sourceId: `storage:${entry.team}:${entry.kind}`,
      windowStart: iso(hour),
      windowEnd: iso(hour + HOUR_MS),
    }));
    try {
      const done = await store.db.transaction().execute(async (trx) => {
        const marked = await trx
          .selectFrom('storage_meter_hours')
          .select('hour_start')
          .where('hour_start', '=', iso(hour))
          .executeTakeFirst();
        if (marked) return false;
        await trx
          .insertInto('storage_meter_hours')
          .values({ hour_start: iso(hour), bytes: totalBytes, created_at: isoNow(clock) })
          .execute();
        await appendUsage(trx, clock, entries);
        return true;
      });
      if (done) accrued += 1;
    } catch (error) {
      // Another process marked the same hour first (primary key): that hour is accrued once, by it.
      const marked = await store.db
        .selectFrom('storage_meter_hours')
        .select('hour_start')
        .where('hour_start', '=', iso(hour))
        .executeTakeFirst();
      if (!marked) throw error;
    }
  }
  accruedUpTo.set(store, lastComplete);
  return accrued;
}
