import { createHash } from 'node:crypto';
import {
  CreatePipelineRequest,
  type JobReason,
  type JobStatus,
  type Pipeline,
  type PipelineStep,
  type PipelineStepSpec,
} from '@aicloud/contracts';
import type { JobService } from '../admission/job-service.ts';
import { AppError, notFound } from '../app-error.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam, teamsToList } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import { hashTree } from '../lineage/content-hash.ts';
import { hashDataset } from '../lineage/dataset-hash.ts';
import type { ModelService } from '../registry/model-service.ts';
import { jobPaths } from '../runner/job-paths.ts';
import type { Store } from '../store/open-store.ts';
import { noPipelineTracing, type PipelineTracing } from '../telemetry/pipeline-tracing.ts';
import { checkDag } from './check-dag.ts';
import { stepEndOf } from './step-end.ts';
import { readStepRegistration } from './step-registration.ts';

export { ownerActor } from './owner-actor.ts';
export { pipelineInputs } from './pipeline-inputs.ts';

type StepSpec = PipelineStepSpec;
type StepStatus = Pipeline['steps'][number]['status'];
type PipelineStatus = Pipeline['status'];

export interface PipelineServiceDeps {
  store: Store;
  clock: Clock;
  jobs: JobService;
  dataDir: string;
  /** The actor of a user by name (the pipeline's owner submits each step). */
  actorOf(userName: string): Promise<Actor>;
  /** First retry's delay; doubled per further attempt (default 10 s). */
  retryBaseMs?: number | undefined;
  /** The registry a step's output is registered in when it asks to be (`aicloud-register.json`). */
  models?: Pick<ModelService, 'register'>;
  /** `pipeline.run` and `pipeline.step` spans (default: none). */
  tracing?: PipelineTracing | undefined;
}

export interface PipelineService {
  create(actor: Actor, request: CreatePipelineRequest): Promise<Pipeline>;
  list(actor: Actor, team?: string): Promise<Pipeline[]>;
  get(actor: Actor, id: string): Promise<Pipeline>;
  cancel(actor: Actor, id: string): Promise<Pipeline>;
  /** Runs a failed or cancelled pipeline's unfinished steps again (finished ones are kept). */
  retry(actor: Actor, id: string): Promise<Pipeline>;
  /** One controller pass: all state is in the store, so a restarted server resumes here. */
  tick(): Promise<void>;
}

const DONE = new Set<StepStatus>(['succeeded', 'cached']);

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

type StepRow = {
  pipeline_id: string;
  name: string;
  position: number;
  spec: string;
  status: string;
  attempt: number;
  job_id: string | null;
  job_ids: string;
  cache_key: string | null;
  output_hash: string | null;
  reason: string | null;
  next_attempt_at: string | null;
  dataset_hashes?: string | null;
};

function toStep(row: StepRow): PipelineStep {
  return {
    name: row.name,
    status: row.status as StepStatus,
    attempt: row.attempt,
    jobId: row.job_id,
    jobIds: JSON.parse(row.job_ids) as string[],
    cacheKey: row.cache_key,
    outputHash: row.output_hash,
    reason: row.reason,
    nextAttemptAt: row.next_attempt_at,
    spec: JSON.parse(row.spec) as StepSpec,
  };
}

/** Pipelines: DAGs of steps, each step an ordinary job under the same guardrails. */
export function createPipelineService(deps: PipelineServiceDeps): PipelineService {
  const { store, clock, jobs, dataDir } = deps;
  const db = store.db;
  const retryBaseMs = deps.retryBaseMs ?? 10_000;
  const tracing = deps.tracing ?? noPipelineTracing;

  async function load(id: string): Promise<Pipeline | null> {
    const row = await db.selectFrom('pipelines').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const steps = await db
      .selectFrom('pipeline_steps')
      .selectAll()
      .where('pipeline_id', '=', id)
      .orderBy('position')
      .execute();
    return {
      id: row.id,
      name: row.name,
      team: row.team,
      owner: row.owner,
      status: row.status as PipelineStatus,
      reason: row.reason,
      experiment: row.experiment ?? row.name,
      createdAt: row.created_at,
      endedAt: row.ended_at,
      steps: steps.map(toStep),
    };
  }

  async function visible(actor: Actor, id: string): Promise<Pipeline> {
    const pipeline = await load(id);
    if (!pipeline || !canSeeTeam(actor.principal, pipeline.team)) throw notFound('pipeline', id);
    return pipeline;
  }

  async function setStep(pipelineId: string, name: string, values: Partial<StepRow>): Promise<void> {
    await db
      .updateTable('pipeline_steps')
      .set(values)
      .where('pipeline_id', '=', pipelineId)
      .where('name', '=', name)
      .execute();
    if (values.status && values.status !== 'running' && values.status !== 'pending')
      tracing.stepEnded(pipelineId, name, values.status, values.reason);
  }

  async function finish(pipeline: Pipeline, status: PipelineStatus, reason: string | null): Promise<void> {
    await db
      .updateTable('pipelines')
      .set({ status, reason, ended_at: isoNow(clock) })
      .where('id', '=', pipeline.id)
      .execute();
    tracing.pipelineEnded(pipeline.id, status, reason);
  }

  function cacheKeyOf(
    step: StepSpec,
    byName: Map<string, PipelineStep>,
    datasetHashes: Record<string, string | null>,
  ): string {
    const inputs = step.dependsOn
      .slice()
      .sort()
      .map((dep) => [dep, byName.get(dep)!.outputHash]);
    return createHash('sha256')
      .update(
        JSON.stringify({
          product: step.product,
          command: step.command,
          params: Object.entries(step.params).sort(([a], [b]) => a.localeCompare(b)),
          inputs,
          // A dataset's contents, not only its path: a changed dataset misses the cache.
          datasets: step.datasets
            .slice()
            .sort()
            .map((path) => [path, datasetHashes[path] ?? null]),
        }),
      )
      .digest('hex');
  }

  async function startStep(pipeline: Pipeline, step: PipelineStep, byName: Map<string, PipelineStep>) {
    const spec = step.spec;
    const datasetHashes: Record<string, string | null> = {};
    for (const path of spec.datasets) datasetHashes[path] = await hashDataset(store, clock, path);
    const cacheKey = cacheKeyOf(spec, byName, datasetHashes);
    if (spec.cache) {
      const hit = await db
        .selectFrom('pipeline_steps')
        .innerJoin('pipelines', 'pipelines.id', 'pipeline_steps.pipeline_id')
        .select(['pipeline_steps.pipeline_id', 'pipeline_steps.job_id', 'pipeline_steps.output_hash'])
        .where('pipelines.team', '=', pipeline.team)
        .where('pipeline_steps.cache_key', '=', cacheKey)
        .where('pipeline_steps.status', '=', 'succeeded')
        .where('pipeline_steps.pipeline_id', '!=', pipeline.id)
        .executeTakeFirst();
      if (hit) {
        tracing.stepCached(pipeline.id, step.name, hit.job_id);
        await setStep(pipeline.id, step.name, {
          status: 'cached',
          cache_key: cacheKey,
          job_id: hit.job_id,
          output_hash: hit.output_hash,
          dataset_hashes: JSON.stringify(datasetHashes),
          reason: `cached: same code, inputs and parameters as step ${step.name} of pipeline ${hit.pipeline_id} (job ${hit.job_id}); not run again`,
        });
        return;
      }
    }
    // Inputs by reference: each dependency's output directory (content-hashed when it ended).
    // (AICLOUD_INPUT_<STEP> comes from the runner, which mounts those directories read-only: pipelineInputs.)
    const exports = [
      `export AICLOUD_PIPELINE_ID=${shellQuote(pipeline.id)}`,
      `export AICLOUD_STEP=${shellQuote(spec.name)}`,
      `export AICLOUD_ATTEMPT=${step.attempt + 1}`,
      `export AICLOUD_PARAMS=${shellQuote(JSON.stringify(spec.params))}`,
    ];
    const actor = await deps.actorOf(pipeline.owner);
    const attempt = step.attempt + 1;
    const name = `${pipeline.name}-${spec.name}-${attempt}`.slice(0, 63);
    const command = `${exports.join('; ')}; ${spec.command}`;
    let reason: string | null = null;
    // A server killed between submitting this attempt's job and recording it finds the job here and adopts
    // it, so the attempt never runs twice (the command names the pipeline, the step and the attempt).
    let jobId: string | null =
      (
        await db
          .selectFrom('jobs')
          .select(['id', 'command'])
          .where('team', '=', pipeline.team)
          .where('name', '=', name)
          .where('created_at', '>=', pipeline.createdAt)
          .execute()
      ).find((job) => job.command === command)?.id ?? null;
    if (!jobId) {
      const traceparent = tracing.stepStarted(pipeline.id, step.name, attempt);
      try {
        const answer = await jobs.submit(
          actor,
          {
            product: spec.product,
            team: pipeline.team,
            name,
            gpus: spec.gpus,
            datasets: spec.datasets,
            command,
            // Every step's run lands in the pipeline's one experiment.
            experiment: pipeline.experiment,
          },
          { traceparent },
        );
        if (answer.admission.outcome === 'rejected' || !answer.job) {
          reason = answer.admission.reasons.map((r) => r.message).join('; ') || 'refused by admission';
        } else {
          jobId = answer.job.id;
          tracing.stepJob(pipeline.id, step.name, jobId);
        }
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
    }
    if (!jobId) {
      await setStep(pipeline.id, step.name, {
        status: 'failed',
        attempt,
        cache_key: cacheKey,
        dataset_hashes: JSON.stringify(datasetHashes),
        reason: `refused: ${reason}`,
      });
      await finish(pipeline, 'failed', `step ${step.name} was refused: ${reason}`);
      return;
    }
    await setStep(pipeline.id, step.name, {
      status: 'running',
      attempt,
      job_id: jobId,
      job_ids: JSON.stringify(step.jobIds.includes(jobId) ? step.jobIds : [...step.jobIds, jobId]),
      cache_key: cacheKey,
      dataset_hashes: JSON.stringify(datasetHashes),
      reason: null,
      next_attempt_at: null,
    });
  }

  /**
   * Registers a succeeded step's output as a model version when the step asked to (the SDK's `register_model`),
   * as the pipeline's owner, so the registry's policy applies; idempotent per job, so a restarted server that
   * registers again gets the same version. Returns why it was refused, or null.
   */
  async function registerOutput(pipeline: Pipeline, step: PipelineStep, outputDir: string) {
    try {
      const request = readStepRegistration(outputDir);
      if (!request) return null;
      if (!deps.models) return 'the step asked to register a model, but this platform has no registry';
      await deps.models.register(await deps.actorOf(pipeline.owner), {
        ...request,
        team: pipeline.team,
        source: `job:${step.jobId}`,
        tags: { ...request.tags, 'aicloud.pipeline': pipeline.id, 'aicloud.step': step.name },
      });
      return null;
    } catch (error) {
      if (error instanceof AppError)
        return `registering its output as model version was refused: ${error.message}`;
      throw error;
    }
  }

  /**
   * Records the ends of a pipeline's running steps and starts the steps now due. A pipeline that has ended
   * (a step failed while a sibling still ran) only has its running steps' ends recorded: nothing starts,
   * nothing retries, and its status stays.
   */
  async function advance(pipeline: Pipeline): Promise<void> {
    const byName = new Map(pipeline.steps.map((step) => [step.name, step]));
    const now = clock.now();
    const live = pipeline.status === 'running';
    for (const step of pipeline.steps) {
      if (step.status !== 'running' || !step.jobId) continue;
      const job = await db
        .selectFrom('jobs')
        .select(['status', 'reasons', 'exit_code'])
        .where('id', '=', step.jobId)
        .executeTakeFirstOrThrow();
      const end = stepEndOf({
        id: step.jobId,
        status: job.status as JobStatus,
        exitCode: job.exit_code,
        reasons: JSON.parse(job.reasons) as JobReason[],
      });
      if (end.outcome === 'succeeded') {
        const outputDir = jobPaths(dataDir, step.jobId).outputDir;
        const refused = await registerOutput(pipeline, step, outputDir);
        if (refused) {
          await setStep(pipeline.id, step.name, { status: 'failed', reason: refused });
          if (live) await finish(pipeline, 'failed', `step ${step.name} failed: ${refused}`);
          return;
        }
        const outputHash = hashTree(outputDir);
        await setStep(pipeline.id, step.name, { status: 'succeeded', output_hash: outputHash, reason: null });
        step.status = 'succeeded';
        step.outputHash = outputHash;
      } else if (end.outcome === 'retry' && step.attempt <= step.spec.retries && live) {
        const delay = retryBaseMs * 2 ** (step.attempt - 1);
        const at = new Date(now + delay).toISOString();
        await setStep(pipeline.id, step.name, {
          status: 'retrying',
          next_attempt_at: at,
          reason: `${end.why}; retry ${step.attempt} of ${step.spec.retries} at ${at}`,
        });
        step.status = 'retrying';
        step.nextAttemptAt = at;
      } else if (end.outcome !== 'running') {
        const reason =
          end.outcome === 'fail'
            ? end.why
            : !live && step.attempt <= step.spec.retries
              ? `${end.why}; not retried: the pipeline had already failed`
              : `${end.why}; out of retries (${step.spec.retries})`;
        await setStep(pipeline.id, step.name, { status: 'failed', reason });
        if (live) await finish(pipeline, 'failed', `step ${step.name} failed: ${reason}`);
        return;
      }
    }
    if (!live) return;
    for (const step of pipeline.steps) {
      const due =
        step.status === 'pending' ||
        (step.status === 'retrying' && step.nextAttemptAt !== null && Date.parse(step.nextAttemptAt) <= now);
      if (!due) continue;
      if (!step.spec.dependsOn.every((dep) => DONE.has(byName.get(dep)!.status))) continue;
      await startStep(pipeline, step, byName);
      const fresh = await load(pipeline.id);
      if (fresh?.status !== 'running') return;
      for (const updated of fresh.steps) byName.set(updated.name, updated);
      Object.assign(step, byName.get(step.name));
    }
    if (pipeline.steps.every((step) => DONE.has(byName.get(step.name)!.status))) {
      await finish(pipeline, 'succeeded', null);
    }
  }

  return {
    async create(actor, request) {
      const parsed = CreatePipelineRequest.parse(request);
      checkDag(parsed.steps);
      const teams = [...actor.principal.teams.keys()];
      const team = parsed.team ?? (teams.length === 1 ? teams[0] : undefined);
      if (!team)
        throw new AppError('invalid_input', `name the team (you belong to: ${teams.join(', ') || 'none'})`);
      if (!actor.principal.teams.has(team)) throw notFound('team', team);
      const id = newId('pl');
      const now = isoNow(clock);
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('pipelines')
          .values({
            id,
            name: parsed.name,
            team,
            owner: actor.principal.userName,
            status: 'running',
            reason: null,
            created_at: now,
            ended_at: null,
            experiment: parsed.experiment ?? parsed.name,
          })
          .execute();
        await trx
          .insertInto('pipeline_steps')
          .values(
            parsed.steps.map((step, position) => ({
              pipeline_id: id,
              name: step.name,
              position,
              spec: JSON.stringify(step),
              status: 'pending',
              attempt: 0,
              job_id: null,
              job_ids: '[]',
              cache_key: null,
              output_hash: null,
              reason: null,
              next_attempt_at: null,
            })),
          )
          .execute();
      });
      const created = (await load(id))!;
      tracing.pipelineStarted({ id, name: created.name, team, steps: created.steps.length });
      await advance(created);
      return (await load(id))!;
    },
    async list(actor, team) {
      const teams = teamsToList(actor.principal, team);
      let query = db.selectFrom('pipelines').select('id').orderBy('created_at', 'desc').limit(200);
      if (teams) {
        if (teams.length === 0) return [];
        query = query.where('team', 'in', teams);
      }
      const rows = await query.execute();
      return Promise.all(rows.map(async (row) => (await load(row.id))!));
    },
    get: visible,
    async cancel(actor, id) {
      const pipeline = await visible(actor, id);
      if (pipeline.status !== 'running') {
        throw new AppError('conflict', `pipeline ${id} is ${pipeline.status}, not running`);
      }
      await finish(pipeline, 'cancelled', `cancelled by ${actor.principal.userName}`);
      for (const step of pipeline.steps) {
        if (step.status === 'running' && step.jobId) {
          await jobs.cancel(actor, step.jobId).catch(() => {});
        }
        if (!DONE.has(step.status) && step.status !== 'failed') {
          await setStep(pipeline.id, step.name, { status: 'cancelled', reason: 'pipeline cancelled' });
        }
      }
      return visible(actor, id);
    },
    async retry(actor, id) {
      const pipeline = await visible(actor, id);
      if (pipeline.status !== 'failed' && pipeline.status !== 'cancelled') {
        throw new AppError(
          'conflict',
          `pipeline ${id} is ${pipeline.status}; only a failed or cancelled one is retried`,
        );
      }
      for (const step of pipeline.steps) {
        if (!DONE.has(step.status)) {
          await setStep(pipeline.id, step.name, {
            status: 'pending',
            attempt: 0,
            reason: null,
            next_attempt_at: null,
          });
        }
      }
      await db
        .updateTable('pipelines')
        .set({ status: 'running', reason: null, ended_at: null })
        .where('id', '=', id)
        .execute();
      tracing.pipelineStarted({
        id,
        name: pipeline.name,
        team: pipeline.team,
        steps: pipeline.steps.length,
      });
      await advance((await load(id))!);
      return visible(actor, id);
    },
    async tick() {
      // Running pipelines, and ended ones with a step still running (a sibling of the step that failed): its
      // end is recorded too, so a failed pipeline does not show a step running forever.
      const rows = await db
        .selectFrom('pipelines')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('status', '=', 'running'),
            eb.exists(
              eb
                .selectFrom('pipeline_steps')
                .select('pipeline_steps.name')
                .whereRef('pipeline_steps.pipeline_id', '=', 'pipelines.id')
                .where('pipeline_steps.status', '=', 'running'),
            ),
          ]),
        )
        .execute();
      for (const row of rows) {
        // One pipeline's trouble (a store hiccup) must not stop the others or the rest of the platform tick.
        try {
          const pipeline = await load(row.id);
          if (pipeline) await advance(pipeline);
        } catch (error) {
          process.stderr.write(`pipelines: ${row.id}: ${(error as Error).message}\n`);
        }
      }
    },
  };
}
