import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor, ExecutorEvent, WorkloadSpec, WorkloadStatus } from '@aicloud/executors';
import type { Transaction } from 'kysely';
import { type JobRow, toJob } from '../admission/job-record.ts';
import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { categoryOfKind } from '../billing/ledger.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { approvedLocations, canonicalLocation, inApprovedLocation } from '../datasets/approved-locations.ts';
import { datasetTeam } from '../datasets/dataset-service.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import type { SecretService } from '../secrets/secret-service.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import type { JobRunRecorder } from '../tracking/job-run-recorder.ts';
import type { RunStatus } from '../tracking/tracking-types.ts';
import { pickFreeGpus } from '../workloads/gpu-ledger.ts';
import { moveJob } from '../workloads/job-state.ts';
import { accrue, hourlyRateMicros } from '../workloads/workload-meter.ts';
import type { WorkloadHandler } from '../workloads/workload-supervisor.ts';
import { endOfJob } from './end-reason.ts';
import { jobPaths } from './job-paths.ts';

/** What the runner needs. */
export interface JobRunnerDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  identity: IdentityService;
  catalog: CatalogService;
  secrets: SecretService;
  /** Executors by name (`local`, later `slurm`). */
  executors: Record<string, Executor>;
  /** The cluster account (Slurm `--account`) of each team's jobs by team name; a team not listed: its own name. */
  accounts?: Record<string, string> | undefined;
  dataDir: string;
  /** The URL workloads use to reach the API (known once the server listens). */
  serverUrl: () => string;
  /** How often running jobs accrue into the ledger (default 30 s). */
  meterIntervalMs?: number;
  /**
   * Records every job as an MLflow run (zero-code capture): created at the start, its metric events logged,
   * ended with the job. Absent: jobs are not tracked.
   */
  tracking?: JobRunRecorder | undefined;
  /** Called after a job ends (e.g. to register a fine-tune's output as a model version). */
  onJobEnded?: (job: ReturnType<typeof toJob>) => Promise<void>;
  /** A pipeline step's inputs (env name → upstream output dir), mounted read-only and exported. */
  inputsOf?: (jobId: string) => Promise<Record<string, string>>;
  /** The W3C `traceparent` of a job's submit span, exported to the job as `TRACEPARENT`. */
  traceparentOf?: (jobId: string) => string | undefined;
}

/** Runs admitted jobs on their executor, meters them, records their end, and re-attaches after a restart. */
export interface JobRunner {
  /** Jobs' part in the workload supervisor: their executor events, and re-attaching every job the store believes is running. */
  readonly workload: WorkloadHandler;
  /** Starts admitted jobs now (called right after an admission, so jobs need not wait for the next tick). */
  startAdmitted(): Promise<void>;
  /** Starts admitted jobs that fit on free GPUs and accrues running ones into the ledger. */
  tick(): Promise<void>;
  /** Stops a running job (cancel path: SIGTERM, grace, SIGKILL). */
  stop(jobId: string, reason: 'cancelled' | 'preempted'): Promise<void>;
  /** Resolves when the runner has processed every event up to now (for tests). */
  idle(): Promise<void>;
  /** Stops taking events and waits for the ones taken; workloads keep running and are re-attached on the next start. */
  shutdown(): Promise<void>;
  /** Records one metric report of a job (from the SDK or a JSON line on stdout). */
  recordMetric(jobId: string, metric: Record<string, unknown>, at: number): Promise<void>;
  /** Logs of running jobs as they arrive, for `jobs logs -f`. */
  subscribe(jobId: string, listener: (line: string) => void): () => void;
}

/** Creates the job runner. */
export function createJobRunner(deps: JobRunnerDeps): JobRunner {
  const { store, audit, clock, identity, catalog, secrets, executors, dataDir } = deps;
  const db = store.db;
  const meterInterval = deps.meterIntervalMs ?? 30_000;
  const accounts = new Map(Object.entries(deps.accounts ?? {}));
  const metricSeq = new Map<string, number>();
  const runs = new Map<string, string>();
  const subscribers = new Map<string, Set<(line: string) => void>>();
  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  // Events are handled one at a time, in order, so a job's metrics and its end never race.
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work).catch((error: unknown) => {
      process.stderr.write(`job runner: ${(error as Error).stack ?? String(error)}\n`);
    });
    return queue;
  };

  /**
   * Jobs claimed `running` whose executor start has not returned yet, with the stop asked meanwhile: the executor
   * does not know them in that gap, so a cancel then would be lost; it is carried out once the start returns.
   */
  const starting = new Map<string, { stop: 'cancelled_by_user' | 'preempted' | null }>();

  function executorOf(row: JobRow): Executor {
    const executor = executors[row.executor];
    if (!executor)
      throw new AppError(
        'unavailable',
        `job ${row.id} runs on executor ${row.executor}, which this platform does not have (it has: ${Object.keys(executors).join(', ')})`,
      );
    return executor;
  }

  async function specOf(row: JobRow, env: Record<string, string>, verify = false): Promise<WorkloadSpec> {
    const paths = jobPaths(dataDir, row.id);
    const product = await catalog.get(row.product);
    const datasetPaths = await datasetLocations(JSON.parse(row.datasets) as string[], verify);
    const egress = product.egress === 'allowed' ? 'open' : product.egress;
    const inputs = (await deps.inputsOf?.(row.id)) ?? {};
    const traceparent = deps.traceparentOf?.(row.id);
    return {
      id: row.id,
      command: row.command,
      workDir: paths.workDir,
      env: {
        AICLOUD_JOB_ID: row.id,
        AICLOUD_URL: deps.serverUrl(),
        AICLOUD_DATASETS: datasetPaths.join(':'),
        AICLOUD_TEAM: row.team,
        ...(traceparent ? { TRACEPARENT: traceparent } : {}),
        ...inputs,
        ...env,
      },
      // Only its admitted datasets, read-only; the network as its product says.
      sandbox: {
        readOnly: [...datasetPaths.filter((path) => path.startsWith('/')), ...Object.values(inputs)],
      },
      exposure: { egress },
      placement: {
        gpus: row.gpus,
        ...(row.gpu_type ? { gpuType: row.gpu_type } : {}),
        spot: row.spot === 1,
        ...(product.image ? { image: product.image } : {}),
        labels: {
          'aicloud.dev/team': row.team,
          'aicloud.dev/kind': row.kind,
          'aicloud.dev/product': row.product,
        },
      },
      // The local sandbox's cgroup limits; Slurm keeps its partition's defaults as before.
      ...(row.executor === 'local'
        ? { cpus: product.cpus, memoryMiB: Math.round(product.memoryGiB * 1024) }
        : {}),
      gpus: (JSON.parse(row.gpu_indexes) as number[]).map(String),
      maxRuntimeSeconds: row.max_runtime_s,
      account: accounts.get(row.team) ?? row.team,
      graceSeconds: product.graceSeconds,
      secrets: await secrets.reveal(row.team, JSON.parse(row.secrets) as string[]),
      logFile: paths.logFile,
      outputDir: paths.outputDir,
      checkpointDir: paths.checkpointDir,
    };
  }

  /**
   * The local paths of a job's datasets. At a start they are resolved again (links included) and must
   * still lie in the dataset's own team's part of the lake: a link swapped in after admission would
   * otherwise be what the sandbox mounts. The resolved path is what gets mounted.
   */
  async function datasetLocations(paths: string[], verify: boolean): Promise<string[]> {
    if (paths.length === 0) return [];
    const rows = await db
      .selectFrom('datasets')
      .select(['path', 'location'])
      .where('path', 'in', paths)
      .execute();
    const approved = verify ? await approvedLocations(db) : [];
    return paths.map((path) => {
      let location = rows.find((row) => row.path === path)?.location ?? path;
      if (verify) {
        const team = datasetTeam(path);
        if (!inApprovedLocation(location, approved, team)) {
          throw new AppError(
            'forbidden',
            `dataset ${path} no longer resolves into ${team}'s part of the approved lake (${location}); it was not mounted (rule dataset-own-team)`,
          );
        }
        location = canonicalLocation(location);
      }
      return location.startsWith('file://') ? location.slice('file://'.length) : location;
    });
  }

  /** Accrues a running job's usage from where metering stopped up to `until`, in the caller's transaction. */
  async function meter(trx: Transaction<Database>, row: JobRow, until: number): Promise<void> {
    // Not metered before the executor reports the workload really started (a Slurm job may wait in its queue).
    if (!row.metered_until) return;
    const from = Date.parse(row.metered_until);
    // Settling a job's end earlier than metering already reached (the executor's own end time, e.g. Slurm's
    // whole seconds) appends a correcting row with a negative quantity: the ledger stays append-only and the
    // job's cost equals its runtime × rate.
    if (until === from) return;
    const placement = { gpus: row.gpus, gpuType: row.gpu_type, spot: row.spot === 1 };
    const cost = await accrue(
      trx,
      clock,
      {
        kind: 'job',
        id: row.id,
        team: row.team,
        user: row.owner,
        project: row.name,
        category: categoryOfKind(row.kind),
        placement,
        rateMicros: row.rate_micros ?? hourlyRateMicros((await catalog.get(row.product)).prices, placement),
      },
      from,
      until,
    );
    await trx
      .updateTable('jobs')
      .set({ cost_micros: row.cost_micros + cost, metered_until: new Date(until).toISOString() })
      .where('id', '=', row.id)
      .execute();
  }

  async function start(row: JobRow): Promise<void> {
    const product = await catalog.get(row.product);
    const startedAt = isoNow(clock);
    const claimed = await db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', row.id)
        .where('status', '=', 'admitted')
        .executeTakeFirst();
      if (!current) return null;
      let indexes: number[] = [];
      let source: string | null = null;
      if (current.gpus > 0 && current.executor !== 'local') {
        // A cluster scheduler (Slurm) picks the devices itself; it only needs the count.
        indexes = Array.from({ length: current.gpus }, (_, index) => index);
        source = 'scheduler';
      } else if (current.gpus > 0 && current.gpu_type) {
        const pick = await pickFreeGpus(trx, current.gpu_type, current.gpus);
        if (!pick.ok) return null;
        indexes = pick.indexes;
        source = pick.source;
      }
      const token = await identity.createTokenInTrx(trx, await ownerId(trx, current.owner), {
        name: `run:${current.id}`,
        scope: `job:${current.id}`,
        expiresAt: new Date(
          clock.now() + (current.max_runtime_s + product.graceSeconds + 3600) * 1000,
        ).toISOString(),
      });
      const moved = await moveJob(
        trx,
        current.id,
        'running',
        {
          started_at: startedAt,
          metered_until: current.executor === 'local' ? startedAt : null,
          gpu_indexes: JSON.stringify(indexes),
          gpu_source: source,
          reasons: '[]',
        },
        'admitted',
      );
      if (!moved) return null;
      await audit.append(trx, {
        actor: 'system',
        action: 'job.started',
        resource: `job/${current.id}`,
        team: current.team,
        outcome: 'success',
        details: { gpus: indexes, gpuType: current.gpu_type, gpuSource: source, executor: current.executor },
      });
      return { row: { ...current, gpu_indexes: JSON.stringify(indexes) }, token: token.token };
    });
    if (!claimed) return;
    const gap = { stop: null as 'cancelled_by_user' | 'preempted' | null };
    starting.set(row.id, gap);
    try {
      const paths = jobPaths(dataDir, row.id);
      mkdirSync(paths.root, { recursive: true });
      const runId = await trackRun(claimed.row);
      const spec = await specOf(
        claimed.row,
        {
          AICLOUD_RUN_TOKEN: claimed.token,
          // Any MLflow client in the job logs to the job's own run, with the job's run token.
          ...(runId
            ? {
                MLFLOW_TRACKING_URI: deps.serverUrl(),
                MLFLOW_TRACKING_TOKEN: claimed.token,
                MLFLOW_RUN_ID: runId,
              }
            : {}),
        },
        true,
      );
      const handle = await executorOf(claimed.row).start(spec);
      starting.delete(row.id);
      if (gap.stop) await executorOf(claimed.row).cancel(row.id, gap.stop);
      await db
        .updateTable('jobs')
        .set({
          external_id: handle.externalId,
          ...(claimed.row.executor === 'local'
            ? {
                started_at: new Date(handle.startedAt).toISOString(),
                metered_until: new Date(handle.startedAt).toISOString(),
              }
            : {}),
        })
        .where('id', '=', row.id)
        .execute();
    } catch (error) {
      starting.delete(row.id);
      await finish(row.id, {
        state: 'failed',
        reason: 'start_failed',
        exitCode: null,
        endedAt: clock.now(),
        message: (error as Error).message,
      });
    }
  }

  /** The job's MLflow run (created once per job; a restarted job keeps its run), or null when not tracked. */
  async function trackRun(row: JobRow): Promise<string | null> {
    if (!deps.tracking) return null;
    try {
      const runId = await deps.tracking.start({
        jobId: row.id,
        team: row.team,
        owner: row.owner,
        runName: row.name,
        params: {
          product: row.product,
          kind: row.kind,
          gpus: String(row.gpus),
          ...(row.gpu_type ? { gpu_type: row.gpu_type } : {}),
          spot: String(row.spot === 1),
          executor: row.executor,
          max_runtime_s: String(row.max_runtime_s),
          ...Object.fromEntries(
            (JSON.parse(row.datasets) as string[]).map((path, index) => [`dataset.${index}`, path]),
          ),
        },
        tags: { 'aicloud.product': row.product, 'aicloud.team': row.team },
        artifactDir: jobPaths(dataDir, row.id).outputDir,
        startTime: Date.parse(row.started_at ?? '') || clock.now(),
      });
      runs.set(row.id, runId);
      return runId;
    } catch (error) {
      // Tracking is a record of the job, never a reason for it not to run.
      process.stderr.write(`job runner: no MLflow run for ${row.id}: ${(error as Error).message}\n`);
      return null;
    }
  }

  async function runOf(jobId: string): Promise<string | null> {
    if (!deps.tracking) return null;
    let runId = runs.get(jobId);
    if (runId === undefined) {
      runId = (await deps.tracking.runOfJob(jobId)) ?? '';
      runs.set(jobId, runId);
    }
    return runId || null;
  }

  async function ownerId(trx: Transaction<Database>, name: string): Promise<string> {
    return (await trx.selectFrom('users').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
  }

  async function finish(
    jobId: string,
    end: {
      state: WorkloadStatus['state'];
      reason: string | null;
      exitCode: number | null;
      endedAt: number;
      startedAt?: number;
      message?: string;
    },
  ): Promise<void> {
    const ended = await db.transaction().execute(async (trx) => {
      const found = await lockedJob(trx, jobId).executeTakeFirst();
      if (!found) return null;
      // A workload that ended before its start event was handled still started at the executor's time.
      const row =
        !found.metered_until && end.startedAt
          ? {
              ...found,
              started_at: new Date(end.startedAt).toISOString(),
              metered_until: new Date(end.startedAt).toISOString(),
            }
          : found;
      if (row !== found)
        await trx
          .updateTable('jobs')
          .set({ started_at: row.started_at, metered_until: row.metered_until })
          .where('id', '=', jobId)
          .execute();
      await meter(trx, row, end.endedAt);
      const metered = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', jobId)
        .executeTakeFirstOrThrow();
      if (end.reason === 'preempted') {
        // A preempted spot job goes back to the queue and restarts with the same checkpoint dir.
        const reasons = [
          {
            code: 'preempted',
            message: 'spot capacity was reclaimed; the job restarts from its checkpoint dir',
            asked: null,
            limit: null,
            rule: null,
            next: null,
          },
        ];
        await moveJob(
          trx,
          jobId,
          'admitted',
          { reasons: JSON.stringify(reasons), external_id: null, gpu_indexes: '[]' },
          'running',
        );
        await audit.append(trx, {
          actor: 'system',
          action: 'job.preempted',
          resource: `job/${jobId}`,
          team: row.team,
          outcome: 'success',
        });
        await revokeRunTokens(trx, jobId);
        return null;
      }
      const state = end.state === 'running' ? 'lost' : end.state;
      const { status, reasons } = endOfJob(state, {
        reason: end.reason,
        exitCode: end.exitCode,
        maxRuntimeSeconds: row.max_runtime_s,
        graceSeconds: row.grace_s,
        jobId,
      });
      if (end.message && reasons[0]) reasons[0].message = `${reasons[0].message}: ${end.message}`;
      await moveJob(
        trx,
        jobId,
        status,
        {
          reasons: JSON.stringify(reasons),
          exit_code: end.exitCode,
          ended_at: new Date(end.endedAt).toISOString(),
        },
        'running',
      );
      await revokeRunTokens(trx, jobId);
      await audit.append(trx, {
        actor: 'system',
        action: 'job.ended',
        resource: `job/${jobId}`,
        team: row.team,
        outcome: status === 'succeeded' ? 'success' : 'failure',
        details: {
          status,
          exitCode: end.exitCode,
          reason: end.reason,
          cost: metered.cost_micros / 1_000_000,
        },
      });
      return toJob({
        ...metered,
        status,
        ended_at: new Date(end.endedAt).toISOString(),
        exit_code: end.exitCode,
        reasons: JSON.stringify(reasons),
      });
    });
    subscribers.delete(jobId);
    if (ended) {
      const runId = await runOf(jobId);
      runs.delete(jobId);
      metricSeq.delete(jobId);
      if (runId)
        await deps.tracking
          ?.end(runId, runStatusOf(ended.status), end.endedAt)
          .catch((error: unknown) =>
            process.stderr.write(`job runner: run of ${jobId} not ended: ${(error as Error).message}\n`),
          );
    }
    if (ended && deps.onJobEnded) await deps.onJobEnded(ended);
  }

  async function revokeRunTokens(trx: Transaction<Database>, jobId: string) {
    await trx
      .updateTable('api_tokens')
      .set({ revoked_at: isoNow(clock) })
      .where('scope', '=', `job:${jobId}`)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async function handle(event: ExecutorEvent): Promise<void> {
    if (event.type === 'log') {
      for (const listener of subscribers.get(event.id) ?? []) listener(event.line);
      return;
    }
    if (event.type === 'metric') {
      await recordMetric(event.id, event.metric, event.at);
      return;
    }
    if (event.type === 'started') {
      // The executor's own start time (Slurm's, for a queued cluster job) is where metering begins.
      const at = new Date(event.startedAt).toISOString();
      await db
        .updateTable('jobs')
        .set({ started_at: at, metered_until: at })
        .where('id', '=', event.id)
        .where('status', '=', 'running')
        .where('metered_until', 'is', null)
        .execute();
      return;
    }
    if (event.type === 'ended') {
      const status = event.status;
      await finish(event.id, {
        state: status.state,
        reason: status.reason,
        exitCode: status.exitCode,
        endedAt: status.endedAt ?? clock.now(),
        startedAt: status.startedAt,
      });
    }
  }

  async function recordMetric(jobId: string, metric: Record<string, unknown>, at: number): Promise<void> {
    let seq = metricSeq.get(jobId);
    if (seq === undefined) {
      const max = await db
        .selectFrom('job_metrics')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('job_id', '=', jobId)
        .executeTakeFirst();
      seq = Number(max?.seq ?? 0);
    }
    seq += 1;
    metricSeq.set(jobId, seq);
    const step = typeof metric.step === 'number' ? metric.step : null;
    const rows = Object.entries(metric)
      .filter(
        (entry): entry is [string, number] =>
          entry[0] !== 'step' &&
          entry[0] !== 'event' &&
          typeof entry[1] === 'number' &&
          Number.isFinite(entry[1]),
      )
      .map(([name, value]) => ({ job_id: jobId, seq, step, name, value, time: new Date(at).toISOString() }));
    if (rows.length === 0) return;
    await db.insertInto('job_metrics').values(rows).execute();
    const runId = await runOf(jobId);
    if (runId)
      await deps.tracking
        ?.logMetrics(
          runId,
          rows.map((row) => ({ name: row.name, value: row.value, step: row.step, timestamp: at })),
        )
        .catch((error: unknown) =>
          process.stderr.write(`job runner: metrics of ${jobId} not tracked: ${(error as Error).message}\n`),
        );
  }

  async function startAllAdmitted(): Promise<void> {
    const admitted = await db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'admitted')
      .orderBy('admitted_at')
      .orderBy('id')
      .execute();
    for (const row of admitted) {
      if (executors[row.executor]) await start(row);
    }
  }

  // One start pass at a time; a kick during a pass makes it run once more, so no admission waits for the next tick.
  let startPass: Promise<void> | null = null;
  let again = false;
  function startAdmitted(): Promise<void> {
    if (startPass) {
      again = true;
      return startPass;
    }
    startPass = (async () => {
      do {
        again = false;
        await startAllAdmitted();
      } while (again);
    })().finally(() => {
      startPass = null;
    });
    return startPass;
  }

  /** Selects a job row for update inside a transaction (a row lock on PostgreSQL; SQLite serializes writers). */
  function lockedJob(trx: Transaction<Database>, jobId: string) {
    const query = trx.selectFrom('jobs').selectAll().where('id', '=', jobId).where('status', '=', 'running');
    return store.dialect === 'postgres' ? query.forUpdate() : query;
  }

  /** Re-attaches every job the store believes is running (once, at start). */
  async function recover(): Promise<void> {
    const running = await db.selectFrom('jobs').selectAll().where('status', '=', 'running').execute();
    for (const row of running) {
      const executor = executors[row.executor];
      if (!executor) continue;
      if (!row.external_id) {
        // Killed between claiming the job and starting it: nothing ran if the executor left no files.
        const started = existsSync(join(jobPaths(dataDir, row.id).workDir, '.aicloud'));
        if (!started) {
          await moveJob(db, row.id, 'admitted', { gpu_indexes: '[]' }, 'running');
          continue;
        }
        await finish(row.id, {
          state: 'lost',
          reason: 'start_interrupted',
          exitCode: null,
          endedAt: clock.now(),
        });
        continue;
      }
      const spec = await specOf(row, {});
      const status = await executor.reattach({
        id: row.id,
        externalId: row.external_id,
        startedAt: Date.parse(row.started_at ?? isoNow(clock)),
        spec,
      });
      if (status.state !== 'running') {
        await finish(row.id, {
          state: status.state,
          reason: status.reason,
          exitCode: status.exitCode,
          endedAt: status.endedAt ?? clock.now(),
        });
      }
    }
  }

  /** Accrues running jobs whose metering is at least one interval behind `now`: jobs' part of the supervisor's pass. */
  async function meterDue(now: number): Promise<void> {
    const due = new Date(now - meterInterval).toISOString();
    const running = await db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'running')
      .where('metered_until', '<=', due)
      .execute();
    for (const row of running) {
      await db.transaction().execute(async (trx) => {
        const current = await lockedJob(trx, row.id).executeTakeFirst();
        if (current) await meter(trx, current, now);
      });
    }
  }

  return {
    // The supervisor hands the runner the events of jobs only: executors are shared with notebooks and replicas.
    workload: {
      kind: 'job',
      owns: (id) => id.startsWith('job_'),
      onEvent(event) {
        if (!closed) void enqueue(() => handle(event));
      },
      reattach: recover,
      meterDue,
    },

    startAdmitted,

    tick: startAdmitted,

    async stop(jobId, reason) {
      const why = reason === 'cancelled' ? 'cancelled_by_user' : 'preempted';
      const gap = starting.get(jobId);
      if (gap) {
        // Its start has not returned: the start carries the stop out as soon as the executor knows the job.
        gap.stop = why;
        return;
      }
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirstOrThrow();
      await executorOf(row).cancel(jobId, why);
    },

    recordMetric: (jobId, metric, at) => enqueue(() => recordMetric(jobId, metric, at)),

    idle: () => enqueue(async () => {}),

    async shutdown() {
      closed = true;
      await queue;
    },

    subscribe(jobId, listener) {
      let set = subscribers.get(jobId);
      if (!set) {
        set = new Set();
        subscribers.set(jobId, set);
      }
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}

/** The MLflow run status of a job's end. */
function runStatusOf(status: string): Exclude<RunStatus, 'RUNNING' | 'SCHEDULED'> {
  if (status === 'succeeded') return 'FINISHED';
  if (status === 'cancelled') return 'KILLED';
  return 'FAILED';
}
