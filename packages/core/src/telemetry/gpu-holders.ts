import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CommandRunner } from '@aicloud/executors';
import type { Kysely } from 'kysely';
import { ACTIVE_NOTEBOOK_STATES } from '../notebooks/notebook-record.ts';
import type { Database } from '../store/schema.ts';
import type { GpuHolder } from './gpu-attribution.ts';

/** The root pid of a local workload's `pid:starttime` external id; null for other executors' ids. */
function rootPid(externalId: string | null): number | null {
  const match = externalId ? /^(\d+):\d+$/.exec(externalId) : null;
  return match ? Number(match[1]) : null;
}

const indexes = (json: string): number[] => JSON.parse(json) as number[];

/** Workloads on this machine that hold or may use its GPUs: local running jobs, active notebooks, live replicas. */
export async function localGpuHolders(db: Kysely<Database>): Promise<GpuHolder[]> {
  const jobs = await db
    .selectFrom('jobs')
    .select(['id', 'team', 'gpu_indexes', 'external_id'])
    .where('status', '=', 'running')
    .where('executor', '=', 'local')
    .execute();
  const notebooks = await db
    .selectFrom('notebooks')
    .select(['id', 'team', 'gpu_indexes', 'external_id'])
    .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
    .execute();
  const replicas = await db
    .selectFrom('endpoint_replicas')
    .innerJoin('endpoints', 'endpoints.id', 'endpoint_replicas.endpoint_id')
    .select([
      'endpoint_replicas.id as id',
      'endpoints.team as team',
      'endpoint_replicas.gpu_indexes as gpu_indexes',
      'endpoint_replicas.external_id as external_id',
    ])
    .where('endpoint_replicas.status', 'in', ['starting', 'ready'])
    .execute();
  const holder = (kind: GpuHolder['kind']) => (row: (typeof jobs)[number]) => ({
    kind,
    id: row.id,
    team: row.team,
    gpuIndexes: indexes(row.gpu_indexes),
    rootPid: rootPid(row.external_id),
  });
  return [
    ...jobs.map(holder('job')),
    ...notebooks.map(holder('notebook')),
    ...replicas.map(holder('replica')),
  ];
}

/** The parent of a process from /proc/<pid>/stat (the field after the command name and state). */
export function procParentOf(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text
      .slice(text.lastIndexOf(')') + 1)
      .trim()
      .split(/\s+/);
    const parent = Number(fields[1]);
    return Number.isInteger(parent) ? parent : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a program found on PATH with a 10-second limit; null when it is missing, fails or times out. */
export const runOnPath: CommandRunner = (command, args) =>
  new Promise((resolve) => {
    execFile(command, [...args], { timeout: 10_000, encoding: 'utf8' }, (error, stdout) => {
      resolve(error ? null : stdout);
    });
  });
