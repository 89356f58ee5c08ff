import type { LineageNode } from '@aicloud/contracts';
import type { Clock } from '../clock.ts';
import { datasetTeam } from '../datasets/dataset-service.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';
import { hashDataset } from './dataset-hash.ts';

/** A pipeline step as lineage reads it. */
export type StepRef = {
  pipeline_id: string;
  name: string;
  spec: string;
  job_id: string | null;
  job_ids: string;
  output_hash: string | null;
  dataset_hashes?: string | null | undefined;
};

/** The kind prefix of a node id (`job` of `job:job_…`). */
export const prefixOf = (id: string) => id.slice(0, id.indexOf(':'));
/** The reference of a node id (`job_…` of `job:job_…`). */
export const refOf = (id: string) => id.slice(id.indexOf(':') + 1);
/** The node id of a model version. */
export const modelId = (team: string, name: string, version: number) => `model:${team}/${name}@${version}`;

/** Parses stored JSON text, or gives the fallback for none or bad text. */
export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Reads lineage nodes from the store: `<kind>:<ref>` ids, each as the caller may see it. */
export function createLineageNodes(store: Store, clock: Clock) {
  const db = store.db;

  /** The pipeline steps a job ran (or was reused by, for a cache hit). */
  async function stepsOfJob(jobId: string): Promise<StepRef[]> {
    const rows = await db
      .selectFrom('pipeline_steps')
      .selectAll()
      .where((eb) => eb.or([eb('job_id', '=', jobId), eb('job_ids', 'like', `%"${jobId}"%`)]))
      .execute();
    return rows.filter((row) => row.job_id === jobId || parseJson<string[]>(row.job_ids, []).includes(jobId));
  }

  async function modelByRef(ref: string) {
    const match = /^(.+)\/([^/]+)@(\d+)$/.exec(ref);
    if (!match) return null;
    const model = await db
      .selectFrom('models')
      .selectAll()
      .where('team', '=', match[1]!)
      .where('name', '=', match[2]!)
      .executeTakeFirst();
    if (!model) return null;
    const version = await db
      .selectFrom('model_versions')
      .selectAll()
      .where('model_id', '=', model.id)
      .where('version', '=', Number(match[3]))
      .executeTakeFirst();
    return version ? { model, version } : null;
  }

  /** The MLflow run of a job, if the platform recorded one. */
  async function runOfJob(jobId: string): Promise<string | null> {
    const run = await db
      .selectFrom('tracking_runs')
      .select('id')
      .where('job_id', '=', jobId)
      .executeTakeFirst();
    return run?.id ?? null;
  }

  /** One node by id, or null when it is absent or in a team the caller cannot see. */
  async function loadNode(actor: Actor, id: string): Promise<LineageNode | null> {
    const sees = (team: string) => canSeeTeam(actor.principal, team);
    const ref = refOf(id);
    switch (prefixOf(id)) {
      case 'dataset': {
        const row = await db.selectFrom('datasets').selectAll().where('path', '=', ref).executeTakeFirst();
        const team = row?.team ?? datasetTeam(ref);
        if (!sees(team)) return null;
        // First use in lineage of a dataset never hashed: hash it now and keep it.
        const contentHash = row ? (row.content_hash ?? (await hashDataset(store, clock, ref))) : null;
        return {
          id,
          kind: 'dataset',
          label: ref,
          team,
          status: row ? 'registered' : 'unregistered',
          contentHash,
          details: {
            location: row?.location ?? null,
            classification: row?.classification ?? null,
            hashedAt: row?.hashed_at ?? null,
          },
        };
      }
      case 'job': {
        const job = await db.selectFrom('jobs').selectAll().where('id', '=', ref).executeTakeFirst();
        if (!job || !sees(job.team)) return null;
        const step = (await stepsOfJob(ref))[0];
        return {
          id,
          kind: step ? 'step_job' : 'job',
          label: step ? `${step.name} (${job.id})` : `${job.name} (${job.id})`,
          team: job.team,
          status: job.status,
          details: {
            name: job.name,
            product: job.product,
            owner: job.owner,
            pipeline: step?.pipeline_id ?? null,
            step: step?.name ?? null,
            createdAt: job.created_at,
            endedAt: job.ended_at,
          },
        };
      }
      case 'pipeline': {
        const row = await db.selectFrom('pipelines').selectAll().where('id', '=', ref).executeTakeFirst();
        if (!row || !sees(row.team)) return null;
        return {
          id,
          kind: 'pipeline_run',
          label: `${row.name} (${row.id})`,
          team: row.team,
          status: row.status,
          from: row.created_at,
          to: row.ended_at,
          details: { name: row.name, owner: row.owner },
        };
      }
      case 'run': {
        const row = await db.selectFrom('tracking_runs').selectAll().where('id', '=', ref).executeTakeFirst();
        if (!row || !sees(row.team)) return null;
        return {
          id,
          kind: 'tracking_run',
          label: `${row.name} (${row.id})`,
          team: row.team,
          status: row.status,
          details: { experimentId: row.experiment_id, jobId: row.job_id },
        };
      }
      case 'model': {
        const found = await modelByRef(ref);
        if (!found || !sees(found.model.team)) return null;
        const { model, version } = found;
        const lineage = parseJson<{ jobId?: string | null }>(version.lineage, {});
        const runId =
          (version as { run_id?: string | null }).run_id ??
          (lineage.jobId ? await runOfJob(lineage.jobId) : null);
        return {
          id,
          kind: 'model_version',
          label: `${model.name}@${version.version}`,
          team: model.team,
          status: version.scan_verdict,
          sourceRunId: runId,
          metrics: parseJson<Record<string, number>>(version.metrics, {}),
          details: {
            source: version.source,
            digest: version.digest,
            runtime: version.runtime,
            createdBy: version.created_by,
            createdAt: version.created_at,
          },
        };
      }
      case 'endpoint': {
        const row = await db.selectFrom('endpoints').selectAll().where('id', '=', ref).executeTakeFirst();
        if (!row || !sees(row.team)) return null;
        return {
          id,
          kind: 'endpoint',
          label: row.name,
          team: row.team,
          status: row.status,
          from: row.created_at,
          to: row.deleted_at,
          details: { model: row.model_name, version: row.version, runtime: row.runtime },
        };
      }
      default:
        return null;
    }
  }

  return { stepsOfJob, modelByRef, runOfJob, loadNode };
}
