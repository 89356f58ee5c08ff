import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
import { createLogTailer, type LogTailer } from './log-tailer.ts';
import { type ProcInfo, readProc, readProcTable } from './proc-table.ts';
import { defaultPidsLimit, type SandboxConfig, sandboxCommand } from './sandbox-command.ts';
import { sandboxSupport } from './sandbox-support.ts';
import { createSecretMasker } from './secret-masker.ts';
import { createWorkloadCgroup, removeWorkloadCgroup } from './workload-cgroup.ts';
import { workloadEnv, workloadIdVariable } from './workload-env.ts';
import { localAddress, localEgress } from './workload-exposure.ts';
import {
  readExitRecord,
  readTerminationRecord,
  type TerminationRecord,
  type WorkloadFiles,
  workloadFiles,
  wrapperScript,
  writeTerminationRecord,
} from './workload-files.ts';
import { type WrapperEnd, workloadOutcome } from './workload-outcome.ts';
import {
  findWorkloadProcesses,
  signalWorkloadProcesses,
  type WorkloadProcesses,
  type WorkloadProcessTarget,
} from './workload-processes.ts';

/** What the local executor needs; every field has a default. */
export interface LocalExecutorDeps {
  /** Where runtime limits, grace periods and status times read the time; the system clock by default. */
  clock?: { now(): number };
  /** How often runtime limits and grace periods are enforced and reattached workloads polled; 1000 ms by default. */
  killCheckIntervalMs?: number;
  /** How often spooled output is copied into log files and events; 250 ms by default. */
  logPollIntervalMs?: number;
  /**
   * Workload isolation: `sandbox` runs every workload in its own sandbox (own uid, mount, pid, ipc and network
   * namespaces, cgroup limits) and refuses to start one when this machine cannot; `none` runs workloads as
   * the server's own user (single-user machines and tests of the executor's process handling). Default:
   * `sandbox` when `sandboxSupport()` says this machine can, else `none`; `aicloud up` says which at start-up.
   */
  isolation?: 'sandbox' | 'none';
  /** What all sandboxes share: the platform API socket and read-only tool paths. */
  sandbox?: SandboxConfig;
}

interface Tracked {
  spec: WorkloadSpec;
  files: WorkloadFiles;
  target: WorkloadProcessTarget;
  externalId: string;
  startedAt: number;
  /** The wrapper when this instance started it (and so is its parent); undefined after a reattach. */
  child: ChildProcess | undefined;
  /** Set once the wrapper is known to have ended. */
  wrapperEnd: WrapperEnd | undefined;
  termination: TerminationRecord | undefined;
  /** SIGTERM sent at `since`; SIGKILL follows graceSeconds later. */
  stopping: { since: number; killed: boolean } | undefined;
  cpuSeconds: number | undefined;
  tailer: LogTailer;
  polling: boolean;
  finishing: boolean;
}

const keptFinishedStatuses = 1000;

/** Creates the embedded executor: each workload is a process group on this machine, watched through /proc. */
export function createLocalExecutor(deps: LocalExecutorDeps = {}): Executor {
  const clock = deps.clock ?? { now: () => Date.now() };
  const killCheckIntervalMs = deps.killCheckIntervalMs ?? 1000;
  const logPollIntervalMs = deps.logPollIntervalMs ?? 250;
  const isolation = deps.isolation ?? (sandboxSupport().ok ? 'sandbox' : 'none');
  const tracked = new Map<string, Tracked>();
  const finished = new Map<string, WorkloadStatus>();
  const listeners = new Set<ExecutorListener>();
  let timers: NodeJS.Timeout[] = [];
  let closed = false;

  const emit = (event: ExecutorEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not stop the workload from being watched.
      }
    }
  };

  const track = (workload: Tracked): void => {
    tracked.set(workload.spec.id, workload);
    if (timers.length > 0) return;
    timers = [
      setInterval(() => checkAll(), killCheckIntervalMs),
      setInterval(() => {
        for (const each of tracked.values()) void pollLogs(each);
      }, logPollIntervalMs),
    ];
  };

  const untrack = (id: string): void => {
    tracked.delete(id);
    if (tracked.size > 0) return;
    for (const timer of timers) clearInterval(timer);
    timers = [];
  };

  const pollLogs = async (workload: Tracked): Promise<void> => {
    if (workload.polling || workload.finishing) return;
    workload.polling = true;
    await workload.tailer.poll().catch(() => undefined);
    workload.polling = false;
  };

  const find = (
    workload: Tracked,
    table: Map<number, ProcInfo> | undefined,
    scanEnvironment: boolean,
  ): WorkloadProcesses => {
    if (table) return findWorkloadProcesses(table, workload.target, { scanEnvironment });
    // Without /proc (not Linux) only the process group can be followed.
    const { pid } = workload.target;
    const groupAlive = signalExists(-pid);
    const placeholder = { pid, ppid: 0, pgid: pid, state: 'S', starttime: '', cpuSeconds: 0 };
    return {
      members: groupAlive ? [placeholder] : [],
      wrapperRunning: signalExists(pid),
      groupVerified: groupAlive,
    };
  };

  const signal = (workload: Tracked, name: NodeJS.Signals): void => {
    signalWorkloadProcesses(find(workload, readProcTable(), true), workload.target.pid, name);
  };

  const stop = (workload: Tracked, now: number): void => {
    if (workload.stopping) return;
    workload.stopping = { since: now, killed: false };
    signal(workload, 'SIGTERM');
    if (workload.spec.graceSeconds <= 0) kill(workload);
  };

  const kill = (workload: Tracked): void => {
    if (!workload.stopping || workload.stopping.killed) return;
    workload.stopping.killed = true;
    signal(workload, 'SIGKILL');
    setTimeout(() => checkAll(), 50);
  };

  const terminate = (workload: Tracked, termination: TerminationRecord): void => {
    if (workload.termination || workload.wrapperEnd || workload.finishing) return;
    workload.termination = termination;
    try {
      writeTerminationRecord(workload.files.termination, termination);
    } catch {
      // Best effort: without the record a restarted executor still enforces the runtime limit.
    }
    stop(workload, termination.requestedAt);
  };

  const check = (workload: Tracked, table: Map<number, ProcInfo> | undefined): void => {
    if (workload.finishing) return;
    const scanEnvironment = workload.stopping !== undefined || workload.wrapperEnd !== undefined;
    const found = find(workload, table, scanEnvironment);
    workload.target.known = new Map(found.members.map((member) => [member.pid, member.starttime]));
    if (table) {
      const cpu = found.members.reduce((sum, member) => sum + member.cpuSeconds, 0);
      workload.cpuSeconds = Math.max(workload.cpuSeconds ?? 0, cpu);
    }
    // A wrapper this instance spawned is reported by its 'exit' event (with its signal); others by polling.
    if (!workload.child && !workload.wrapperEnd && !found.wrapperRunning) {
      const code = readExitRecord(workload.files.exitCode)?.code;
      // The wrapper survives SIGTERM, so without an exit file after our SIGKILL, that is what ended it.
      const signal = code === undefined && workload.stopping?.killed ? 'SIGKILL' : null;
      workload.wrapperEnd = { code, signal };
    }
    const now = clock.now();
    const { spec } = workload;
    if (!workload.wrapperEnd && now >= workload.startedAt + spec.maxRuntimeSeconds * 1000) {
      terminate(workload, { state: 'timed_out', reason: 'runtime_limit', requestedAt: now });
    }
    if (workload.wrapperEnd) {
      if (found.members.length === 0) {
        void finish(workload);
        return;
      }
      // The command ended but left processes behind: they go the same way as a cancelled workload.
      stop(workload, now);
    }
    if (workload.stopping && now >= workload.stopping.since + spec.graceSeconds * 1000) kill(workload);
  };

  const checkAll = (): void => {
    const table = readProcTable();
    for (const workload of tracked.values()) check(workload, table);
  };

  const runningStatus = (workload: Tracked): WorkloadStatus => ({
    id: workload.spec.id,
    state: 'running',
    exitCode: null,
    signal: null,
    startedAt: workload.startedAt,
    endedAt: null,
    reason: null,
    ...(workload.cpuSeconds === undefined ? {} : { cpuSeconds: workload.cpuSeconds }),
  });

  const endWorkload = async (workload: Tracked): Promise<WorkloadStatus> => {
    workload.finishing = true;
    await workload.tailer.finish().catch(() => undefined);
    const record = readExitRecord(workload.files.exitCode);
    const cpuSeconds = Math.max(workload.cpuSeconds ?? 0, record?.childCpuSeconds ?? 0);
    const outcome = workloadOutcome(workload.wrapperEnd, workload.termination);
    const status: WorkloadStatus = {
      ...runningStatus(workload),
      ...outcome,
      endedAt: clock.now(),
      ...(workload.cpuSeconds === undefined && record?.childCpuSeconds === undefined ? {} : { cpuSeconds }),
    };
    finished.set(status.id, status);
    for (const id of finished.keys()) {
      if (finished.size <= keptFinishedStatuses) break;
      finished.delete(id);
    }
    return status;
  };

  const finish = async (workload: Tracked): Promise<void> => {
    const status = await endWorkload(workload);
    removeWorkloadCgroup(status.id);
    if (tracked.get(status.id) !== workload) return;
    untrack(status.id);
    emit({ type: 'ended', id: status.id, status });
  };

  const newTracked = (spec: WorkloadSpec, pid: number, starttime: string, startedAt: number): Tracked => {
    const files = workloadFiles(spec);
    const mask = createSecretMasker(Object.values(spec.secrets));
    return {
      spec,
      files,
      target: { pid, starttime, marker: `${workloadIdVariable}=${spec.id}`, known: new Map() },
      externalId: `${pid}:${starttime}`,
      startedAt,
      child: undefined,
      wrapperEnd: undefined,
      termination: undefined,
      stopping: undefined,
      cpuSeconds: undefined,
      tailer: createLogTailer({ id: spec.id, files, logFile: spec.logFile, mask, emit, now: clock.now }),
      polling: false,
      finishing: false,
    };
  };

  return {
    name: 'local',
    isolation,

    async start(requested: WorkloadSpec): Promise<WorkloadHandleInfo> {
      if (closed) throw new Error('the local executor is shut down');
      const spec: WorkloadSpec =
        isolation === 'sandbox'
          ? { ...requested, sandbox: { ...requested.sandbox, egress: localEgress(requested) } }
          : { ...requested, sandbox: undefined };
      const address = localAddress(spec, isolation === 'sandbox');
      if (tracked.has(spec.id)) throw new Error(`workload ${spec.id} is already running`);
      if (!(spec.maxRuntimeSeconds > 0) || !(spec.graceSeconds >= 0)) {
        throw new Error(`workload ${spec.id} needs maxRuntimeSeconds > 0 and graceSeconds >= 0`);
      }
      const files = workloadFiles(spec);
      for (const dir of [spec.workDir, spec.outputDir, spec.checkpointDir, dirname(spec.logFile)]) {
        mkdirSync(dir, { recursive: true });
      }
      mkdirSync(files.dir, { recursive: true, mode: 0o700 });
      for (const path of [files.exitCode, files.termination, files.offsets]) rmSync(path, { force: true });
      for (const path of [files.stdout, files.stderr]) writeFileSync(path, '', { mode: 0o600 });

      let command = spec.command;
      let cgroupProcs: string[] = [];
      if (spec.sandbox) {
        const support = sandboxSupport();
        if (!support.ok) throw new Error(`workload ${spec.id} cannot be sandboxed: ${support.reason}`);
        command = sandboxCommand(spec, support.tools, deps.sandbox ?? {}, files.dir);
        cgroupProcs = createWorkloadCgroup(spec.id, {
          ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}),
          ...(spec.cpus ? { cpus: spec.cpus } : {}),
          pids: spec.sandbox.pids ?? defaultPidsLimit,
        }).procs;
      }
      const startedAt = clock.now();
      const args = [
        '-c',
        wrapperScript,
        'aicloud-wrapper',
        command,
        files.stdout,
        files.stderr,
        files.exitCode,
        ...cgroupProcs,
      ];
      const child = spawn('/bin/sh', args, {
        cwd: spec.workDir,
        env: workloadEnv(spec),
        detached: true,
        stdio: 'ignore',
      });
      let early: WrapperEnd | undefined;
      let onExit = (end: WrapperEnd): void => {
        early = end;
      };
      child.once('exit', (code, signalName) => onExit({ code: code ?? undefined, signal: signalName }));
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (error) =>
          reject(new Error(`workload ${spec.id} could not start: ${error.message}`)),
        );
      });
      child.on('error', () => undefined);
      const pid = child.pid!;
      const workload = newTracked(spec, pid, readProc(pid)?.starttime ?? '', startedAt);
      workload.child = child;
      track(workload);
      onExit = (end) => {
        workload.wrapperEnd ??= end;
        if (tracked.get(spec.id) === workload) check(workload, readProcTable());
      };
      emit({ type: 'started', id: spec.id, externalId: workload.externalId, startedAt });
      if (early) onExit(early);
      return { id: spec.id, externalId: workload.externalId, startedAt, ...(address ? { address } : {}) };
    },

    async cancel(id: string, reason: string): Promise<void> {
      const workload = tracked.get(id);
      if (!workload) return;
      terminate(workload, { state: 'cancelled', reason, requestedAt: clock.now() });
    },

    status(id: string): WorkloadStatus | undefined {
      const workload = tracked.get(id);
      return workload ? runningStatus(workload) : finished.get(id);
    },

    async reattach(persisted: PersistedWorkload): Promise<WorkloadStatus> {
      if (closed) throw new Error('the local executor is shut down');
      const { spec } = persisted;
      const current = tracked.get(spec.id);
      if (current) return runningStatus(current);
      const ended = finished.get(spec.id);
      if (ended && ended.startedAt === persisted.startedAt) return ended;
      const [pidText = '', starttime = ''] = persisted.externalId.split(':');
      const pid = Number(pidText);
      const workload = newTracked(
        spec,
        Number.isInteger(pid) && pid > 1 ? pid : 0,
        starttime,
        persisted.startedAt,
      );
      const termination = readTerminationRecord(workload.files.termination);
      if (termination) {
        workload.termination = termination;
        workload.stopping = { since: termination.requestedAt, killed: false };
      }
      const table = readProcTable();
      const found =
        workload.target.pid > 0
          ? find(workload, table, true)
          : { members: [], wrapperRunning: false, groupVerified: false };
      if (!found.wrapperRunning) {
        workload.wrapperEnd = { code: readExitRecord(workload.files.exitCode)?.code, signal: null };
      }
      if (workload.wrapperEnd && found.members.length === 0) return endWorkload(workload);
      track(workload);
      check(workload, table);
      return runningStatus(workload);
    },

    onEvent(listener: ExecutorListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async shutdown(): Promise<void> {
      closed = true;
      const workloads = [...tracked.values()];
      for (const workload of workloads) {
        workload.child?.removeAllListeners('exit');
        workload.child?.unref();
        untrack(workload.spec.id);
      }
      // Copy what is complete, so the next instance resumes exactly where this one stopped.
      await Promise.all(workloads.map((workload) => workload.tailer.poll().catch(() => undefined)));
    },
  };
}

function signalExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
