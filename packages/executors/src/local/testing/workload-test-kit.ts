import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Executor, ExecutorEvent, WorkloadSpec, WorkloadStatus } from '../../executor.ts';
import { hasEnvEntry, isRunning, readProcTable } from '../proc-table.ts';
import { workloadIdVariable } from '../workload-env.ts';

/** A fresh directory for one test's workloads. */
export function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'aicloud-executors-'));
}

/** A spec with short limits under `root`; tests override what they exercise. */
export function testSpec(
  root: string,
  spec: Partial<WorkloadSpec> & { id: string; command: string },
): WorkloadSpec {
  return {
    workDir: join(root, spec.id, 'work'),
    env: {},
    gpus: [],
    maxRuntimeSeconds: 30,
    graceSeconds: 1,
    secrets: {},
    logFile: join(root, spec.id, 'logs', 'output.log'),
    outputDir: join(root, spec.id, 'output'),
    checkpointDir: join(root, spec.id, 'checkpoints'),
    ...spec,
  };
}

/** Records an executor's events and waits for particular ones. */
export function recordEvents(executor: Executor) {
  const events: ExecutorEvent[] = [];
  const waiters: { match: (event: ExecutorEvent) => boolean; resolve: (event: ExecutorEvent) => void }[] = [];
  const stop = executor.onEvent((event) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.match(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  const next = (match: (event: ExecutorEvent) => boolean, timeoutMs = 15_000): Promise<ExecutorEvent> => {
    const seen = events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for an executor event')), timeoutMs);
      waiters.push({
        match,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
      });
    });
  };
  return {
    events,
    stop,
    /** Resolves with the final status of a workload. */
    ended: async (id: string): Promise<WorkloadStatus> => {
      const event = await next((e) => e.type === 'ended' && e.id === id);
      if (event.type !== 'ended') throw new Error('unreachable');
      return event.status;
    },
    /** Resolves once a workload logged a line containing `text`. */
    logged: (id: string, text: string) =>
      next((e) => e.type === 'log' && e.id === id && e.line.includes(text)),
    /** The log lines of a workload so far. */
    lines: (id: string): string[] => events.flatMap((e) => (e.type === 'log' && e.id === id ? [e.line] : [])),
  };
}

/** Pids of running processes that still belong to a workload: its process group or its id marker. */
export function survivors(pgid: number, id: string): number[] {
  const table = readProcTable() ?? new Map();
  return [...table.values()]
    .filter((info) => isRunning(info) && info.pid !== process.pid)
    .filter((info) => info.pgid === pgid || hasEnvEntry(info.pid, `${workloadIdVariable}=${id}`))
    .map((info) => info.pid);
}

/** Kills whatever a failed test left behind. */
export function killSurvivors(pgid: number, id: string): void {
  for (const pid of survivors(pgid, id)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The pid in an externalId (`pid:starttime`). */
export function pidOf(externalId: string): number {
  return Number(externalId.split(':')[0]);
}

/** Waits until a condition holds, polling. */
export async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
