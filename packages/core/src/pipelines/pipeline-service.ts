import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  CreatePipelineRequest,
  type Pipeline,
  type PipelineStep,
  type PipelineStepSpec,
} from '@aicloud/contracts';
import type { JobService } from '../admission/job-service.ts';
import { AppError, notFound } from '../app-error.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam, teamsToList } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import { jobPaths } from '../runner/job-paths.ts';
import type { Store } from '../store/open-store.ts';

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
  retryBaseMs?: number;
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

const FAILED_JOB = new Set(['failed', 'lost', 'timed_out']);
const DONE = new Set<StepStatus>(['succeeded', 'cached']);

/** sha256 over the files of a directory (relative path and content), in name order. */
export function hashDir(dir: string): string {
  const hash = createHash('sha256');
  const walk = (current: string) => {
    for (const name of readdirSync(current).sort()) {
      const path = join(current, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) {
        hash.update(`${relative(dir, path)}\0`);
        hash.update(readFileSync(path));
        hash.update('\0');
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return hash.digest('hex');
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function checkDag(steps: StepSpec[]): void {
  const names = new Set<string>();
  for (const step of steps) {
    if (names.has(step.name)) throw new AppError('invalid_input', `step ${step.name} is declared twice`);
    names.add(step.name);
  }
  for (const step of steps) {
    for (const dep of step.dependsOn) {
      if (!names.has(dep))
        throw new AppError('invalid_input', `step ${step.name} depends on unknown step ${dep}`);
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const byName = new Map(steps.map((step) => [step.name, step]));
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new AppError('invalid_input', `the steps form a cycle: ${[...path, name].join(' → ')}`);
    }
    state.set(name, 'visiting');
    for (const dep of byName.get(name)!.dependsOn) visit(dep, [...path, name]);
    state.set(name, 'done');
  };
  for (const step of steps) visit(step.name, []);
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
  }

  async function finish(pipeline: Pipeline, status: PipelineStatus, reason: string | null): Promise<void> {
    await db
      .updateTable('pipelines')
      .set({ status, reason, ended_at: isoNow(clock) })
      .where('id', '=', pipeline.id)
      .execute();
  }

  function cacheKeyOf(step: StepSpec, byName: Map<string, PipelineStep>): string {
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
          datasets: step.datasets.slice().sort(),
        }),
      )
      .digest('hex');
  }

  async function startStep(pipeline: Pipeline, step: PipelineStep, byName: Map<string, PipelineStep>) {
    const spec = step.spec;
    const cacheKey = cacheKeyOf(spec, byName);
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
        await setStep(pipeline.id, step.name, {
          status: 'cached',
          cache_key: cacheKey,
          job_id: hit.job_id,
          output_hash: hit.output_hash,
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
    let reason: string | null = null;
    let jobId: string | null = null;
    try {
      const answer = await jobs.submit(actor, {
        product: spec.product,
        team: pipeline.team,
        name: `${pipeline.name}-${spec.name}-${attempt}`.slice(0, 63),
        gpus: spec.gpus,
        datasets: spec.datasets,
        command: `${exports.join('; ')}; ${spec.command}`,
      });
      if (answer.admission.outcome === 'rejected' || !answer.job) {
        reason = answer.admission.reasons.map((r) => r.message).join('; ') || 'refused by admission';
      } else jobId = answer.job.id;
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    if (!jobId) {
      await setStep(pipeline.id, step.name, {
        status: 'failed',
        attempt,
        cache_key: cacheKey,
        reason: `refused: ${reason}`,
      });
      await finish(pipeline, 'failed', `step ${step.name} was refused: ${reason}`);
      return;
    }
    await setStep(pipeline.id, step.name, {
      status: 'running',
      attempt,
      job_id: jobId,
      job_ids: JSON.stringify([...step.jobIds, jobId]),
      cache_key: cacheKey,
      reason: null,
      next_attempt_at: null,
    });
  }

  async function advance(pipeline: Pipeline): Promise<void> {
    const byName = new Map(pipeline.steps.map((step) => [step.name, step]));
    const now = clock.now();
    for (const step of pipeline.steps) {
      if (step.status !== 'running' || !step.jobId) continue;
      const job = await db
        .selectFrom('jobs')
        .select(['status', 'reasons', 'exit_code'])
        .where('id', '=', step.jobId)
        .executeTakeFirstOrThrow();
      if (job.status === 'succeeded') {
        const outputHash = hashDir(jobPaths(dataDir, step.jobId).outputDir);
        await setStep(pipeline.id, step.name, { status: 'succeeded', output_hash: outputHash, reason: null });
        step.status = 'succeeded';
        step.outputHash = outputHash;
      } else if (FAILED_JOB.has(job.status) || job.status === 'cancelled' || job.status === 'rejected') {
        const why = `job ${step.jobId} ${job.status}${job.exit_code === null ? '' : ` (exit ${job.exit_code})`}`;
        if (FAILED_JOB.has(job.status) && step.attempt <= step.spec.retries) {
          const delay = retryBaseMs * 2 ** (step.attempt - 1);
          const at = new Date(now + delay).toISOString();
          await setStep(pipeline.id, step.name, {
            status: 'retrying',
            next_attempt_at: at,
            reason: `${why}; retry ${step.attempt} of ${step.spec.retries} at ${at}`,
          });
          step.status = 'retrying';
          step.nextAttemptAt = at;
        } else {
          const reason =
            job.status === 'cancelled' || job.status === 'rejected'
              ? why
              : `${why}; out of retries (${step.spec.retries})`;
          await setStep(pipeline.id, step.name, { status: 'failed', reason });
          await finish(pipeline, 'failed', `step ${step.name} failed: ${reason}`);
          return;
        }
      }
    }
    for (const step of pipeline.steps) {
      const due =
        step.status === 'pending' ||
        (step.status === 'retrying' && step.nextAttemptAt !== null && Date.parse(step.nextAttemptAt) <= now);
      if (!due) continue;
      if (!step.spec.dependsOn.every((dep) => DONE.has(byName.get(dep)!.status))) continue;
      await startStep(pipeline, step, byName);
      const fresh = await load(pipeline.id);
      if (!fresh || fresh.status !== 'running') return;
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
      await advance((await load(id))!);
      return visible(actor, id);
    },
    async tick() {
      const rows = await db.selectFrom('pipelines').select('id').where('status', '=', 'running').execute();
      for (const row of rows) {
        const pipeline = await load(row.id);
        if (pipeline) await advance(pipeline);
      }
    },
  };
}

/** The actor of a user by name, for steps submitted on the pipeline owner's behalf. */
export async function ownerActor(store: Store, name: string): Promise<Actor> {
  const user = await store.db
    .selectFrom('users')
    .select(['id', 'name', 'platform_admin'])
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  const memberships = await store.db
    .selectFrom('memberships')
    .innerJoin('teams', 'teams.id', 'memberships.team_id')
    .select(['teams.name as team', 'memberships.role as role'])
    .where('memberships.user_id', '=', user.id)
    .execute();
  return {
    principal: {
      userId: user.id,
      userName: user.name,
      platformAdmin: user.platform_admin === 1,
      teams: new Map(memberships.map((m) => [m.team, m.role as 'member' | 'manager'])),
      tokenId: 'pipeline',
      tokenName: 'pipeline',
      tokenExpiresAt: null,
      scope: null,
    },
    requestId: null,
  };
}

/** The inputs of the job of a pipeline step: AICLOUD_INPUT_<STEP> → that dependency's output directory. */
export async function pipelineInputs(
  store: Store,
  dataDir: string,
  jobId: string,
): Promise<Record<string, string>> {
  const step = await store.db
    .selectFrom('pipeline_steps')
    .select(['pipeline_id', 'spec'])
    .where('job_id', '=', jobId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  if (!step) return {};
  const { dependsOn } = JSON.parse(step.spec) as StepSpec;
  if (dependsOn.length === 0) return {};
  const upstream = await store.db
    .selectFrom('pipeline_steps')
    .select(['name', 'job_id'])
    .where('pipeline_id', '=', step.pipeline_id)
    .where('name', 'in', dependsOn)
    .execute();
  const inputs: Record<string, string> = {};
  for (const dep of upstream) {
    if (dep.job_id)
      inputs[`AICLOUD_INPUT_${dep.name.toUpperCase()}`] = jobPaths(dataDir, dep.job_id).outputDir;
  }
  return inputs;
}
