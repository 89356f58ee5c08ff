import type {
  LineageDirection,
  LineageEdge,
  LineageGraph,
  LineageNode,
  LineageQuery,
  LineageRootKind,
  PipelineStepSpec,
} from '@aicloud/contracts';
import { AppError, notFound } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import type { ModelService } from '../registry/model-service.ts';
import type { Store } from '../store/open-store.ts';
import { createLineageNodes, modelId, parseJson, prefixOf, refOf, type StepRef } from './lineage-nodes.ts';

/** What the lineage graph reads. */
export interface LineageServiceDeps {
  store: Store;
  clock: Clock;
  /** Resolves `NAME@VERSION` (a number or an alias) as the caller sees it (404 for another team's). */
  models: Pick<ModelService, 'version'>;
}

/** Lineage as one graph over datasets, pipeline runs, jobs, MLflow runs, model versions and endpoints. */
export interface LineageService {
  /**
   * The graph around a dataset (its path), a model version (`NAME@VERSION`) or an endpoint (its name), walked
   * up (ancestors), down (descendants) or both; another team's nodes never appear and another team's root is 404.
   */
  graph(actor: Actor, kind: LineageRootKind, ref: string, query?: LineageQuery): Promise<LineageGraph>;
}

/** The most nodes one answer holds; the walk stops there and says `truncated`. */
const MAX_NODES = 500;

type Link = { id: string; edge: LineageEdge };

/** Creates the lineage graph query. */
export function createLineageService(deps: LineageServiceDeps): LineageService {
  const { store, clock } = deps;
  const db = store.db;
  const { stepsOfJob, modelByRef, runOfJob, loadNode } = createLineageNodes(store, clock);

  /** The step's job's own pipeline run, linked whichever way the walk goes (a step is part of its run). */
  function runLinks(jobId: string, steps: StepRef[]): Link[] {
    return steps.map((step) => ({
      id: `pipeline:${step.pipeline_id}`,
      edge: { from: `pipeline:${step.pipeline_id}`, to: `job:${jobId}`, kind: 'step_of' as const },
    }));
  }

  /** The nodes one step upstream of a node, with the edges to it. */
  async function upstream(id: string): Promise<Link[]> {
    const ref = refOf(id);
    switch (prefixOf(id)) {
      case 'job': {
        const job = await db.selectFrom('jobs').select('datasets').where('id', '=', ref).executeTakeFirst();
        if (!job) return [];
        const steps = await stepsOfJob(ref);
        const consumedHashes = parseJson<Record<string, string | null>>(steps[0]?.dataset_hashes, {});
        const links: Link[] = parseJson<string[]>(job.datasets, []).map((path) => ({
          id: `dataset:${path}`,
          edge: {
            from: `dataset:${path}`,
            to: id,
            kind: 'consumed',
            contentHash: consumedHashes[path] ?? null,
          },
        }));
        links.push(...runLinks(ref, steps));
        for (const step of steps.filter((candidate) => candidate.job_id === ref)) {
          const { dependsOn } = parseJson<PipelineStepSpec>(step.spec, { dependsOn: [] } as never);
          if (dependsOn.length === 0) continue;
          const inputs = await db
            .selectFrom('pipeline_steps')
            .select(['job_id', 'output_hash'])
            .where('pipeline_id', '=', step.pipeline_id)
            .where('name', 'in', dependsOn)
            .execute();
          for (const input of inputs) {
            if (!input.job_id) continue;
            links.push({
              id: `job:${input.job_id}`,
              edge: { from: `job:${input.job_id}`, to: id, kind: 'consumed', contentHash: input.output_hash },
            });
          }
        }
        return links;
      }
      case 'run': {
        const run = await db
          .selectFrom('tracking_runs')
          .select('job_id')
          .where('id', '=', ref)
          .executeTakeFirst();
        return run?.job_id
          ? [{ id: `job:${run.job_id}`, edge: { from: `job:${run.job_id}`, to: id, kind: 'tracked_as' } }]
          : [];
      }
      case 'model': {
        const found = await modelByRef(ref);
        const jobId = found ? parseJson<{ jobId?: string | null }>(found.version.lineage, {}).jobId : null;
        if (!jobId) return [];
        const links: Link[] = [
          { id: `job:${jobId}`, edge: { from: `job:${jobId}`, to: id, kind: 'registered_from' } },
        ];
        for (const step of await stepsOfJob(jobId)) {
          const run = `pipeline:${step.pipeline_id}`;
          links.push({ id: run, edge: { from: run, to: id, kind: 'produced' } });
        }
        return links;
      }
      case 'endpoint': {
        const row = await db
          .selectFrom('endpoints')
          .innerJoin('models', 'models.id', 'endpoints.model_id')
          .select(['models.team', 'models.name', 'endpoints.version'])
          .where('endpoints.id', '=', ref)
          .executeTakeFirst();
        if (!row) return [];
        const model = modelId(row.team, row.name, row.version);
        return [{ id: model, edge: { from: model, to: id, kind: 'deployed_as' } }];
      }
      default:
        return [];
    }
  }

  /** The nodes one step downstream of a node, with the edges to them. */
  async function downstream(id: string): Promise<Link[]> {
    const ref = refOf(id);
    switch (prefixOf(id)) {
      case 'dataset': {
        // Job datasets are JSON text: LIKE narrows, the parsed list decides.
        const jobs = await db
          .selectFrom('jobs')
          .select(['id', 'datasets'])
          .where('datasets', 'like', `%${JSON.stringify(ref)}%`)
          .orderBy('created_at')
          .execute();
        const links: Link[] = [];
        for (const job of jobs) {
          if (!parseJson<string[]>(job.datasets, []).includes(ref)) continue;
          const steps = await stepsOfJob(job.id);
          const hashes = parseJson<Record<string, string | null>>(steps[0]?.dataset_hashes, {});
          links.push({
            id: `job:${job.id}`,
            edge: { from: id, to: `job:${job.id}`, kind: 'consumed', contentHash: hashes[ref] ?? null },
          });
        }
        return links;
      }
      case 'job': {
        const steps = await stepsOfJob(ref);
        const links = runLinks(ref, steps);
        for (const step of steps) {
          const siblings = await db
            .selectFrom('pipeline_steps')
            .select(['spec', 'job_id'])
            .where('pipeline_id', '=', step.pipeline_id)
            .execute();
          for (const sibling of siblings) {
            const spec = parseJson<PipelineStepSpec>(sibling.spec, { dependsOn: [] } as never);
            if (!sibling.job_id || !spec.dependsOn.includes(step.name)) continue;
            links.push({
              id: `job:${sibling.job_id}`,
              edge: {
                from: id,
                to: `job:${sibling.job_id}`,
                kind: 'consumed',
                contentHash: step.output_hash,
              },
            });
          }
        }
        const run = await runOfJob(ref);
        if (run) links.push({ id: `run:${run}`, edge: { from: id, to: `run:${run}`, kind: 'tracked_as' } });
        for (const version of await versionsFromJobs([ref])) {
          links.push({ id: version, edge: { from: id, to: version, kind: 'registered_from' } });
        }
        return links;
      }
      case 'pipeline': {
        const steps = await db
          .selectFrom('pipeline_steps')
          .select(['job_id'])
          .where('pipeline_id', '=', ref)
          .orderBy('position')
          .execute();
        const jobIds = steps.flatMap((step) => (step.job_id ? [step.job_id] : []));
        const links: Link[] = jobIds.map((jobId) => ({
          id: `job:${jobId}`,
          edge: { from: id, to: `job:${jobId}`, kind: 'step_of' },
        }));
        for (const version of await versionsFromJobs(jobIds)) {
          links.push({ id: version, edge: { from: id, to: version, kind: 'produced' } });
        }
        return links;
      }
      case 'model': {
        const found = await modelByRef(ref);
        if (!found) return [];
        const endpoints = await db
          .selectFrom('endpoints')
          .select('id')
          .where('model_id', '=', found.model.id)
          .where('version', '=', found.version.version)
          .orderBy('created_at')
          .execute();
        return endpoints.map((endpoint) => ({
          id: `endpoint:${endpoint.id}`,
          edge: { from: id, to: `endpoint:${endpoint.id}`, kind: 'deployed_as' },
        }));
      }
      default:
        return [];
    }
  }

  /** The model versions registered from any of these jobs' outputs. */
  async function versionsFromJobs(jobIds: string[]): Promise<string[]> {
    if (jobIds.length === 0) return [];
    const rows = await db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .select(['models.team', 'models.name', 'model_versions.version'])
      .where(
        'model_versions.source',
        'in',
        jobIds.map((jobId) => `job:${jobId}`),
      )
      .execute();
    return rows.map((row) => modelId(row.team, row.name, row.version));
  }

  async function rootOf(actor: Actor, kind: LineageRootKind, ref: string, team?: string): Promise<string> {
    if (team && !canSeeTeam(actor.principal, team)) throw notFound(kind, ref);
    if (kind === 'dataset') {
      const row = await db
        .selectFrom('datasets')
        .select(['path', 'team'])
        .where('path', '=', ref)
        .executeTakeFirst();
      if (!row || !canSeeTeam(actor.principal, row.team) || (team && row.team !== team))
        throw notFound('dataset', ref);
      return `dataset:${row.path}`;
    }
    if (kind === 'model') {
      const at = ref.lastIndexOf('@');
      if (at <= 0 || at === ref.length - 1)
        throw new AppError('invalid_input', `'${ref}' is not NAME@VERSION (a version number or an alias)`, {
          issues: [{ path: ['ref'], message: 'NAME@VERSION' }],
        });
      const version = await deps.models.version(
        actor,
        ref.slice(0, at),
        ref.slice(at + 1),
        team ? { team } : {},
      );
      return modelId(version.team, version.model, version.version);
    }
    let select = db.selectFrom('endpoints').select(['id', 'team']).where('name', '=', ref);
    if (team) select = select.where('team', '=', team);
    const rows = (await select.orderBy('created_at', 'desc').execute()).filter((row) =>
      canSeeTeam(actor.principal, row.team),
    );
    if (rows.length === 0) throw notFound('endpoint', ref);
    const teams = new Set(rows.map((row) => row.team));
    if (teams.size > 1)
      throw new AppError(
        'invalid_input',
        `endpoint ${ref} exists in teams ${[...teams].join(', ')}: pass --team`,
        {
          issues: [{ path: ['team'], message: 'required' }],
        },
      );
    // A name deleted and deployed again: the newest endpoint of that name.
    return `endpoint:${rows[0]!.id}`;
  }

  return {
    async graph(actor, kind, ref, query = {}) {
      const direction: LineageDirection = query.direction ?? 'both';
      const root = await rootOf(actor, kind, ref, query.team);
      const nodes = new Map<string, LineageNode | null>();
      const edges = new Map<string, LineageEdge>();
      let truncated = false;
      const node = async (id: string) => {
        if (!nodes.has(id)) nodes.set(id, await loadNode(actor, id));
        return nodes.get(id)!;
      };
      if (!(await node(root))) throw notFound(kind, ref);
      const walk = async (next: (id: string) => Promise<Link[]>) => {
        const seen = new Set([root]);
        const queue = [root];
        while (queue.length > 0) {
          const id = queue.shift()!;
          for (const link of await next(id)) {
            if (!nodes.has(link.id) && nodes.size >= MAX_NODES) {
              truncated = true;
              continue;
            }
            if (!(await node(link.id))) continue;
            edges.set(`${link.edge.from}|${link.edge.to}|${link.edge.kind}`, link.edge);
            if (!seen.has(link.id)) {
              seen.add(link.id);
              queue.push(link.id);
            }
          }
        }
      };
      if (direction !== 'down') await walk(upstream);
      if (direction !== 'up') await walk(downstream);
      return {
        root,
        direction,
        nodes: [...nodes.values()].filter((value): value is LineageNode => value !== null),
        edges: [...edges.values()],
        truncated,
      };
    },
  };
}
