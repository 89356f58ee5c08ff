import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  Executor,
  ExecutorEvent,
  ExecutorListener,
  PersistedWorkload,
  WorkloadHandleInfo,
  WorkloadSpec,
  WorkloadStatus,
} from '../executor.ts';
import { createLogTailer, type LogTailer } from '../local/log-tailer.ts';
import { createSecretMasker } from '../local/secret-masker.ts';
import {
  readTerminationRecord,
  type TerminationRecord,
  type WorkloadFiles,
  workloadFiles,
  writeTerminationRecord,
} from '../local/workload-files.ts';
import type { WorkloadOutcome } from '../local/workload-outcome.ts';
import {
  renderBatchScript,
  type SlurmGresTypes,
  slurmComment,
  slurmCommentPrefix,
  slurmJobName,
} from './batch-script.ts';
import { gresTypesFor, parseSinfoGres } from './gres-types.ts';
import { localSlurmRunner, type SlurmCommandRunner } from './slurm-command.ts';
import {
  isRunningSlurmState,
  parseSacct,
  parseSbatchParsable,
  parseScontrolShowJob,
  parseSqueueJson,
  type SlurmJob,
  sacctFields,
  sbatchRefusalReason,
} from './slurm-jobs.ts';
import { slurmOutcome } from './slurm-outcome.ts';

/** What the Slurm executor needs: the partition; everything else has a default. */
export interface SlurmExecutorDeps {
  /** The partition every job is submitted to (`--partition`). */
  partition: string;
  /**
   * How the cluster's gres names the catalog's GPU types (`--gres=gpu:<type>:N`); `untyped` for GPUs
   * without `Type=`. Absent: read once from the partition (`sinfo -o %G`) when a job first asks for a type.
   */
  gresTypes?: SlurmGresTypes | undefined;
  /** Runs Slurm's commands; the ones on this host's PATH by default. */
  run?: SlurmCommandRunner;
  /**
   * How often one batched `squeue --json` tracks every job; 2000 ms by default. The pause between two
   * cycles is at least four times the last cycle's duration, so that polling a long queue never keeps
   * the cluster's commands busy more than a fifth of the time, and a cycle yields to a burst of
   * submissions for up to four intervals.
   */
  pollIntervalMs?: number;
  /** How often the output files of running jobs are copied into log files and events; 500 ms by default. */
  logPollIntervalMs?: number;
  /** Where status and event times read the time (Slurm's own times are used for start and end); the system clock by default. */
  clock?: { now(): number };
  /**
   * Where jobs that left slurmctld's memory (`MinJobAge` after their end) are looked up: `jobcomp` runs
   * `sacct -c` (the `jobcomp/filetxt` file, no slurmdbd needed), `accounting` runs `sacct` (slurmdbd).
   * `jobcomp` by default.
   */
  finishedJobs?: 'jobcomp' | 'accounting';
}

/** How much one poll cycle cost, for benchmarks and monitoring. */
export interface SlurmPollStats {
  /** Poll cycles run so far. */
  cycles: number;
  /** Slurm commands the last cycle issued (`squeue`, at most one `sacct`, at most one `scancel`). */
  lastCycleCommands: number;
  /** Jobs the last cycle tracked. */
  lastCycleJobs: number;
  /** How long the last cycle took, in milliseconds. */
  lastCycleMs: number;
  /** The most commands any cycle issued. */
  maxCycleCommands: number;
}

/** The Slurm executor: the `Executor` port plus what recovery and benchmarks need. */
export interface SlurmExecutor extends Executor {
  /**
   * Finds the job whose `--comment` is `aicloud:<id>` (the newest, when several), in slurmctld's memory,
   * then by job name in `sacct`; for a caller that crashed between `sbatch` and saving the job id.
   * Submissions Slurm refused are not jobs and are not found.
   */
  findByComment(id: string): Promise<SlurmJob | undefined>;
  /** Runs one poll cycle now (or joins the one in flight). */
  poll(): Promise<void>;
  /** What poll cycles cost so far. */
  pollStats(): SlurmPollStats;
}

/** sbatch refused a job; the message names Slurm's reason (`Requested node configuration is not available`). */
export class SlurmSubmitError extends Error {
  /** Slurm's reason as sbatch reported it. */
  readonly slurmReason: string;

  constructor(id: string, slurmReason: string) {
    super(`Slurm refused workload ${id}: ${slurmReason}`);
    this.name = 'SlurmSubmitError';
    this.slurmReason = slurmReason;
  }
}

interface Tracked {
  spec: WorkloadSpec;
  files: WorkloadFiles;
  jobId: string;
  /** When aicloud submitted (or found) the job; the start time until Slurm reports its own. */
  submittedAt: number;
  /** Slurm's start time once it reported the job running. */
  slurmStart: number | null;
  startedEmitted: boolean;
  termination: TerminationRecord | undefined;
  tailer: LogTailer;
  tailing: boolean;
  finishing: boolean;
  /** Consecutive cycles in which neither squeue nor sacct knew the job. */
  misses: number;
  /** The cycle number when tracking began: a cycle that began earlier may not see the job yet. */
  sinceCycle: number;
}

const keptFinishedStatuses = 1000;
/** The pause between poll cycles is at least this many times the last cycle's duration. */
const pollDutyFactor = 4;
/** A poll cycle postponed by submissions still runs after this many half-interval pauses. */
const maxPollDeferrals = 8;
/** Cycles a job may be missing from squeue and sacct before it reads as `lost`. */
const missesBeforeLost = 2;

/**
 * Creates the Slurm executor: each workload is one batch job submitted with `sbatch --parsable`, tracked
 * by ONE `squeue --json` per poll cycle for all jobs (plus at most one `sacct` for jobs that left the
 * queue), cancelled with `scancel`, its output read from the job's output files.
 */
export function createSlurmExecutor(deps: SlurmExecutorDeps): SlurmExecutor {
  const run = deps.run ?? localSlurmRunner();
  const clock = deps.clock ?? { now: () => Date.now() };
  const pollIntervalMs = deps.pollIntervalMs ?? 2000;
  const logPollIntervalMs = deps.logPollIntervalMs ?? 500;
  const sacctSource = deps.finishedJobs === 'accounting' ? [] : ['-c'];
  const tracked = new Map<string, Tracked>();
  const finished = new Map<string, { jobId: string; status: WorkloadStatus }>();
  const starting = new Set<string>();
  const listeners = new Set<ExecutorListener>();
  /** aicloud jobs in slurmctld's memory by workload id, from the latest `squeue --json`. */
  let byComment = new Map<string, SlurmJob>();
  let snapshot: Promise<void> | undefined;
  let inFlight: Promise<void> | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  /** When the last sbatch returned (performance.now()), and how many times the next cycle yielded to one. */
  let lastSubmitAt = Number.NEGATIVE_INFINITY;
  let deferrals = 0;
  let logTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const stats: SlurmPollStats = {
    cycles: 0,
    lastCycleCommands: 0,
    lastCycleJobs: 0,
    lastCycleMs: 0,
    maxCycleCommands: 0,
  };

  const emit = (event: ExecutorEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not stop the workload from being watched.
      }
    }
  };

  const schedulePoll = (delay = Math.max(pollIntervalMs, stats.lastCycleMs * pollDutyFactor)): void => {
    if (pollTimer || closed || tracked.size === 0) return;
    const timer = setTimeout(() => {
      // A cycle yields to a burst of submissions (sbatch and squeue contend for slurmctld and the CPU),
      // for at most `maxPollDeferrals` pauses: jobs just submitted need no tracking within seconds.
      const now = performance.now();
      if (now - lastSubmitAt < pollIntervalMs / 4 && deferrals < maxPollDeferrals) {
        deferrals += 1;
        pollTimer = undefined;
        schedulePoll(pollIntervalMs / 2);
        return;
      }
      deferrals = 0;
      void poll()
        .catch(() => undefined)
        .finally(() => {
          // Unless the timers were stopped (and maybe restarted) meanwhile, the next cycle follows.
          if (pollTimer !== timer) return;
          pollTimer = undefined;
          schedulePoll();
        });
    }, delay);
    pollTimer = timer;
  };

  const track = (workload: Tracked): void => {
    tracked.set(workload.spec.id, workload);
    if (closed) return;
    schedulePoll();
    logTimer ??= setInterval(() => {
      for (const each of tracked.values()) void tailLogs(each);
    }, logPollIntervalMs);
  };

  const stopTimers = (): void => {
    clearTimeout(pollTimer);
    clearInterval(logTimer);
    pollTimer = undefined;
    logTimer = undefined;
  };

  const untrack = (id: string): void => {
    tracked.delete(id);
    if (tracked.size === 0) stopTimers();
  };

  const tailLogs = async (workload: Tracked): Promise<void> => {
    if (!workload.startedEmitted || workload.tailing || workload.finishing) return;
    workload.tailing = true;
    await workload.tailer.poll().catch(() => undefined);
    workload.tailing = false;
  };

  const newTracked = (spec: WorkloadSpec, jobId: string, submittedAt: number, fresh = false): Tracked => {
    const files = workloadFiles(spec);
    const mask = createSecretMasker(Object.values(spec.secrets));
    return {
      spec,
      files,
      jobId,
      submittedAt,
      slurmStart: null,
      startedEmitted: false,
      termination: fresh ? undefined : readTerminationRecord(files.termination),
      tailer: createLogTailer({ id: spec.id, files, logFile: spec.logFile, mask, emit, now: clock.now }),
      tailing: false,
      finishing: false,
      misses: 0,
      sinceCycle: stats.cycles,
    };
  };

  const runningStatus = (workload: Tracked): WorkloadStatus => ({
    id: workload.spec.id,
    state: 'running',
    exitCode: null,
    signal: null,
    startedAt: workload.slurmStart ?? workload.submittedAt,
    endedAt: null,
    reason: null,
  });

  /** Copies the rest of the output and builds the final status, from Slurm's start and end times. */
  const endWorkload = async (
    workload: Tracked,
    outcome: WorkloadOutcome,
    job: SlurmJob | undefined,
  ): Promise<WorkloadStatus> => {
    workload.finishing = true;
    await workload.tailer.finish().catch(() => undefined);
    const endedAt = job?.endTime ?? clock.now();
    const status: WorkloadStatus = {
      id: workload.spec.id,
      ...outcome,
      startedAt: job?.startTime ?? workload.slurmStart ?? Math.min(workload.submittedAt, endedAt),
      endedAt,
    };
    finished.set(status.id, { jobId: workload.jobId, status });
    for (const id of finished.keys()) {
      if (finished.size <= keptFinishedStatuses) break;
      finished.delete(id);
    }
    return status;
  };

  const finish = async (workload: Tracked, outcome: WorkloadOutcome, job: SlurmJob | undefined) => {
    if (workload.finishing) return;
    workload.finishing = true;
    if (!workload.startedEmitted) {
      // Jobs that ended between two polls still get their `started`, with Slurm's start time.
      workload.startedEmitted = true;
      const startedAt = job?.startTime ?? job?.endTime ?? workload.submittedAt;
      emit({ type: 'started', id: workload.spec.id, externalId: workload.jobId, startedAt });
    }
    const status = await endWorkload(workload, outcome, job);
    if (tracked.get(status.id) !== workload) return;
    untrack(status.id);
    emit({ type: 'ended', id: status.id, status });
  };

  /** Applies what Slurm reported about a tracked job: `started` once it runs, `ended` once final. */
  const update = (workload: Tracked, job: SlurmJob): void => {
    if (workload.finishing) return;
    workload.misses = 0;
    if (!workload.startedEmitted && isRunningSlurmState(job.state) && job.startTime !== null) {
      workload.slurmStart = job.startTime;
      workload.startedEmitted = true;
      emit({ type: 'started', id: workload.spec.id, externalId: workload.jobId, startedAt: job.startTime });
    }
    const outcome = slurmOutcome(job, workload.termination);
    if (outcome) void finish(workload, outcome, job);
  };

  /** Refreshes the comment index from one `squeue --json`; returns every job, or undefined when squeue failed. */
  const squeue = async (): Promise<SlurmJob[] | undefined> => {
    const result = await run('squeue', ['--json']);
    if (result.code !== 0) return undefined;
    let jobs: SlurmJob[];
    try {
      jobs = parseSqueueJson(result.stdout, slurmCommentPrefix);
    } catch {
      return undefined;
    }
    const index = new Map<string, SlurmJob>();
    for (const job of jobs) {
      if (!job.comment?.startsWith(slurmCommentPrefix) || refusedAtSubmit(job)) continue;
      const id = job.comment.slice(slurmCommentPrefix.length);
      const seen = index.get(id);
      if (!seen || Number(job.jobId) > Number(seen.jobId)) index.set(id, job);
    }
    byComment = index;
    return jobs;
  };

  const sacct = async (selection: readonly string[]): Promise<SlurmJob[] | undefined> => {
    const result = await run('sacct', [...sacctSource, '-X', '-P', '-n', ...selection, '-o', sacctFields]);
    return result.code === 0 ? parseSacct(result.stdout) : undefined;
  };

  const cycle = async (): Promise<void> => {
    stats.cycles += 1;
    const cycleNumber = stats.cycles;
    const began = performance.now();
    let commands = 0;
    const jobsThisCycle = tracked.size;
    try {
      if (tracked.size === 0) return;
      commands += 1;
      const jobs = await squeue();
      if (!jobs) return;
      const byId = new Map(jobs.map((job) => [job.jobId, job]));
      const missing: Tracked[] = [];
      for (const workload of tracked.values()) {
        const job = byId.get(workload.jobId);
        if (job && job.comment === slurmComment(workload.spec.id)) update(workload, job);
        else if (workload.sinceCycle < cycleNumber && !workload.finishing) missing.push(workload);
      }
      if (missing.length > 0) {
        commands += 1;
        const found = await sacct(['-j', missing.map((workload) => workload.jobId).join(',')]);
        const fromSacct = new Map((found ?? []).map((job) => [job.jobId, job]));
        for (const workload of missing) {
          const job = fromSacct.get(workload.jobId);
          if (job && job.name === slurmJobName(workload.spec.id)) update(workload, job);
          else if (found && ++workload.misses >= missesBeforeLost) {
            void finish(
              workload,
              { state: 'lost', reason: 'job_gone', exitCode: null, signal: null },
              undefined,
            );
          }
        }
      }
      // Slurm limits runtime in whole minutes; a limit in between is enforced here, with one scancel.
      const now = clock.now();
      const overdue = [...tracked.values()].filter(
        ({ spec, slurmStart, termination, finishing }) =>
          !finishing &&
          !termination &&
          slurmStart !== null &&
          spec.maxRuntimeSeconds % 60 !== 0 &&
          now >= slurmStart + spec.maxRuntimeSeconds * 1000,
      );
      if (overdue.length > 0) {
        for (const workload of overdue) {
          recordTermination(workload, { state: 'timed_out', reason: 'runtime_limit', requestedAt: now });
        }
        commands += 1;
        await run(
          'scancel',
          overdue.map((workload) => workload.jobId),
        );
      }
    } finally {
      stats.lastCycleCommands = commands;
      stats.lastCycleJobs = jobsThisCycle;
      stats.lastCycleMs = performance.now() - began;
      stats.maxCycleCommands = Math.max(stats.maxCycleCommands, commands);
    }
  };

  const poll = (): Promise<void> => {
    inFlight ??= cycle().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const recordTermination = (workload: Tracked, termination: TerminationRecord): void => {
    workload.termination = termination;
    try {
      writeTerminationRecord(workload.files.termination, termination);
    } catch {
      // Best effort: without the record a restarted executor reads the end as Slurm reports it.
    }
  };

  /** One squeue per executor instance before its first submit: jobs an earlier instance submitted are in it. */
  const ensureSnapshot = (): Promise<void> => {
    snapshot ??= squeue().then((jobs) => {
      if (jobs) return;
      snapshot = undefined;
      throw new Error('Slurm did not answer squeue --json; is slurmctld reachable?');
    });
    return snapshot;
  };

  let declaredGres: Promise<string[] | 'untyped'> | undefined;
  /** How this job's GPU type is named: as configured, else as the partition declares it (read once). */
  const gresTypes = async (spec: WorkloadSpec): Promise<SlurmGresTypes | undefined> => {
    const gpuType = spec.placement?.gpuType;
    if (deps.gresTypes !== undefined || !gpuType || (spec.placement?.gpus ?? 0) === 0) return deps.gresTypes;
    declaredGres ??= run('sinfo', ['-h', '-p', deps.partition, '-o', '%G']).then((result) => {
      if (result.code !== 0) {
        declaredGres = undefined;
        throw new Error(`sinfo could not list partition ${deps.partition}'s GPUs: ${result.stderr.trim()}`);
      }
      return parseSinfoGres(result.stdout);
    });
    return gresTypesFor(gpuType, await declaredGres, deps.partition);
  };

  const findByComment = async (id: string): Promise<SlurmJob | undefined> => {
    if (await squeue()) {
      const job = byComment.get(id);
      if (job) return job;
    }
    const found = await sacct(['-S', '1970-01-01T00:00:00', '--name', slurmJobName(id)]);
    return found?.filter((job) => job.name === slurmJobName(id) && !refusedAtSubmit(job)).at(-1);
  };

  return {
    name: 'slurm',
    findByComment,
    poll,
    pollStats: () => ({ ...stats }),

    async start(spec: WorkloadSpec): Promise<WorkloadHandleInfo> {
      if (closed) throw new Error('the Slurm executor is shut down');
      if (tracked.has(spec.id) || starting.has(spec.id)) {
        throw new Error(`workload ${spec.id} is already running`);
      }
      if (!(spec.maxRuntimeSeconds > 0) || !(spec.graceSeconds >= 0)) {
        throw new Error(`workload ${spec.id} needs maxRuntimeSeconds > 0 and graceSeconds >= 0`);
      }
      starting.add(spec.id);
      try {
        const script = renderBatchScript(spec, {
          partition: deps.partition,
          gresTypes: await gresTypes(spec),
        });
        await ensureSnapshot();
        const existing = byComment.get(spec.id);
        const ended = finished.get(spec.id);
        if (existing && ended?.jobId === existing.jobId) {
          // Its end was reported already: adopting it again would report (and meter) it twice.
          throw new Error(`workload ${spec.id} already ran as Slurm job ${existing.jobId}`);
        }
        if (existing) {
          // Submitted before (by an instance that did not live to save the job id): adopt, never resubmit.
          const workload = newTracked(spec, existing.jobId, existing.startTime ?? clock.now());
          track(workload);
          return { id: spec.id, externalId: existing.jobId, startedAt: workload.submittedAt };
        }
        // Before sbatch, what the job needs from the moment it starts: its output folder (0700: the output
        // files hold unmasked secrets) without stale output files (Slurm appends). The job makes the
        // output and checkpoint folders itself; the rest is done while sbatch runs.
        const files = workloadFiles(spec);
        mkdirSync(files.dir, { recursive: true, mode: 0o700 });
        for (const path of [files.stdout, files.stderr]) rmSync(path, { force: true });
        const submittedAt = clock.now();
        const submitting = run('sbatch', ['--parsable'], { input: script });
        mkdirSync(dirname(spec.logFile), { recursive: true });
        for (const path of [files.termination, files.offsets]) rmSync(path, { force: true });
        const result = await submitting;
        lastSubmitAt = performance.now();
        if (result.code !== 0) throw new SlurmSubmitError(spec.id, sbatchRefusalReason(result.stderr));
        const jobId = parseSbatchParsable(result.stdout);
        if (!jobId) throw new Error(`sbatch gave no job id for workload ${spec.id}: ${result.stdout.trim()}`);
        if (closed) throw new Error('the Slurm executor is shut down');
        track(newTracked(spec, jobId, submittedAt, true));
        return { id: spec.id, externalId: jobId, startedAt: submittedAt };
      } finally {
        starting.delete(spec.id);
      }
    },

    async cancel(id: string, reason: string): Promise<void> {
      const workload = tracked.get(id);
      if (!workload || workload.finishing || workload.termination) return;
      recordTermination(workload, { state: 'cancelled', reason, requestedAt: clock.now() });
      // Slurm sends SIGCONT and SIGTERM to every process of the job, then SIGKILL after KillWait.
      const result = await run('scancel', [workload.jobId]);
      if (
        result.code !== 0 &&
        !/Invalid job id|already completing|has already completed/i.test(result.stderr)
      ) {
        workload.termination = undefined;
        rmSync(workload.files.termination, { force: true });
        throw new Error(`scancel of job ${workload.jobId} failed: ${result.stderr.trim()}`);
      }
    },

    status(id: string): WorkloadStatus | undefined {
      const workload = tracked.get(id);
      return workload ? runningStatus(workload) : finished.get(id)?.status;
    },

    async reattach(persisted: PersistedWorkload): Promise<WorkloadStatus> {
      if (closed) throw new Error('the Slurm executor is shut down');
      const { spec, externalId: jobId } = persisted;
      const current = tracked.get(spec.id);
      if (current) return runningStatus(current);
      const ended = finished.get(spec.id);
      if (ended && ended.jobId === jobId) return ended.status;

      const workload = newTracked(spec, jobId, persisted.startedAt);
      const shown = await run('scontrol', ['show', 'job', jobId, '-o']);
      let job = parseScontrolShowJob(shown.stdout).find(
        (each) => each.jobId === jobId && each.comment === slurmComment(spec.id),
      );
      let known = shown.code === 0;
      if (!job && (known || /Invalid job id/i.test(shown.stderr))) {
        // Gone from slurmctld's memory (MinJobAge after its end): the completion record tells how it ended.
        const found = await sacct(['-j', jobId]);
        job = found?.find((each) => each.jobId === jobId && each.name === slurmJobName(spec.id));
        known = found !== undefined;
      }
      if (!job && known) {
        return endWorkload(
          workload,
          { state: 'lost', reason: 'job_gone', exitCode: null, signal: null },
          undefined,
        );
      }
      if (job) {
        const outcome = slurmOutcome(job, workload.termination);
        if (outcome) return endWorkload(workload, outcome, job);
        if (isRunningSlurmState(job.state) && job.startTime !== null) {
          workload.slurmStart = job.startTime;
          workload.startedEmitted = true;
        }
      }
      // Running, pending, or Slurm did not answer: the poll cycles take it from here.
      track(workload);
      return runningStatus(workload);
    },

    onEvent(listener: ExecutorListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async shutdown(): Promise<void> {
      closed = true;
      stopTimers();
      const workloads = [...tracked.values()];
      for (const workload of workloads) untrack(workload.spec.id);
      await inFlight?.catch(() => undefined);
      // Copy what is complete, so the next instance resumes exactly where this one stopped.
      await Promise.all(workloads.map((workload) => workload.tailer.poll().catch(() => undefined)));
    },
  };
}

/** A submission Slurm refused still leaves a FAILED record without a node; it is not a job. */
function refusedAtSubmit(job: SlurmJob): boolean {
  return job.state === 'FAILED' && job.batchHost === null;
}
