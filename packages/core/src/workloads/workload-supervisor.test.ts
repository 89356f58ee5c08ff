import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLocalExecutor,
  type Executor,
  type ExecutorEvent,
  type WorkloadSpec,
} from '@aicloud/executors';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createWorkloadSupervisor,
  type WorkloadHandler,
  type WorkloadKind,
  type WorkloadSupervisor,
} from './workload-supervisor.ts';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A real local executor (process handling only: the sandbox is the executor's own tests' concern). */
function localExecutor(): Executor {
  const executor = createLocalExecutor({
    isolation: 'none',
    killCheckIntervalMs: 100,
    logPollIntervalMs: 50,
  });
  cleanups.push(() => executor.shutdown());
  return executor;
}

function spec(root: string, id: string, command: string): WorkloadSpec {
  return {
    id,
    command,
    workDir: join(root, id, 'work'),
    env: {},
    gpus: [],
    maxRuntimeSeconds: 30,
    graceSeconds: 1,
    secrets: {},
    logFile: join(root, id, 'output.log'),
    outputDir: join(root, id, 'output'),
    checkpointDir: join(root, id, 'checkpoints'),
  };
}

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'aicloud-supervisor-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** A handler owning ids with `prefix` that records the events it gets. */
function recorder(kind: WorkloadKind, prefix: string, onEvent?: (event: ExecutorEvent) => void) {
  const events: ExecutorEvent[] = [];
  const handler: WorkloadHandler = {
    kind,
    owns: (id) => id.startsWith(prefix),
    onEvent(event) {
      events.push(event);
      onEvent?.(event);
    },
  };
  return { handler, events };
}

/** Resolves once every executor's `ended` of `ids` was emitted (the supervisor dispatches before this listener runs). */
function endsOf(executor: Executor, ids: string[]): Promise<void> {
  const left = new Set(ids);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no end of ${[...left].join(', ')}`)), 15_000);
    const stop = executor.onEvent((event) => {
      if (event.type === 'ended') left.delete(event.id);
      if (left.size === 0) {
        clearTimeout(timer);
        stop();
        resolve();
      }
    });
  });
}

function supervise(executors: Record<string, Executor>): {
  supervisor: WorkloadSupervisor;
  logged: string[];
} {
  const logged: string[] = [];
  const supervisor = createWorkloadSupervisor({ executors, log: (line) => logged.push(line) });
  cleanups.push(() => supervisor.close());
  return { supervisor, logged };
}

describe('workload supervisor', () => {
  it('hands each event of a real executor to the one kind that owns it, in order', async () => {
    const executor = localExecutor();
    const { supervisor, logged } = supervise({ local: executor });
    const jobs = recorder('job', 'job_');
    const notebooks = recorder('notebook', 'nb_');
    const replicas = recorder('replica', 'rep_');
    for (const { handler } of [replicas, jobs, notebooks]) supervisor.register(handler);
    const root = tempRoot();
    const ended = endsOf(executor, ['job_a', 'nb_a', 'rep_a']);
    for (const id of ['job_a', 'nb_a', 'rep_a'])
      await executor.start(spec(root, id, `echo hello from ${id}`));
    await ended;

    for (const [seen, id] of [
      [jobs.events, 'job_a'],
      [notebooks.events, 'nb_a'],
      [replicas.events, 'rep_a'],
    ] as const) {
      expect(new Set(seen.map((event) => event.id))).toEqual(new Set([id]));
      expect(seen[0]?.type).toBe('started');
      expect(seen.at(-1)).toMatchObject({ type: 'ended', status: { state: 'succeeded' } });
      expect(seen).toContainEqual(expect.objectContaining({ type: 'log', line: `hello from ${id}` }));
    }
    expect(logged).toEqual([]);
  });

  it('logs an event nobody owns once per workload and throws nothing', async () => {
    const executor = localExecutor();
    const { supervisor, logged } = supervise({ local: executor });
    const jobs = recorder('job', 'job_');
    supervisor.register(jobs.handler);
    const root = tempRoot();
    const ended = endsOf(executor, ['zz_stray', 'job_b']);
    await executor.start(spec(root, 'zz_stray', 'echo one; echo two; echo three'));
    await executor.start(spec(root, 'job_b', 'echo fine'));
    await ended;

    const stray = logged.filter((line) => line.includes('zz_stray'));
    expect(stray).toHaveLength(1);
    expect(stray[0]).toMatch(/started event of zz_stray on executor local, which no kind owns/);
    expect(jobs.events.every((event) => event.id === 'job_b')).toBe(true);
    expect(jobs.events.at(-1)).toMatchObject({ type: 'ended', id: 'job_b' });
  });

  it('keeps dispatching when a handler throws or rejects, logging the failure', async () => {
    const executor = localExecutor();
    const { supervisor, logged } = supervise({ local: executor });
    const jobs = recorder('job', 'job_', () => {
      throw new Error('job handler broke');
    });
    const notebooks = recorder('notebook', 'nb_');
    const rejecting: WorkloadHandler = {
      kind: 'replica',
      owns: (id) => id.startsWith('rep_'),
      onEvent: async () => {
        throw new Error('replica handler broke');
      },
    };
    supervisor.register(jobs.handler);
    supervisor.register(notebooks.handler);
    supervisor.register(rejecting);
    const root = tempRoot();
    const ended = endsOf(executor, ['job_c', 'nb_c', 'rep_c']);
    for (const id of ['job_c', 'nb_c', 'rep_c']) await executor.start(spec(root, id, 'echo x'));
    await ended;
    await new Promise((resolve) => setImmediate(resolve));

    // The throwing handler still got every event of its own, and the others got theirs.
    expect(jobs.events.map((event) => event.type)).toEqual(expect.arrayContaining(['started', 'ended']));
    expect(notebooks.events.at(-1)).toMatchObject({ type: 'ended', id: 'nb_c' });
    expect(logged.some((line) => line.includes('job handler failed on ended of job_c'))).toBe(true);
    expect(logged.some((line) => line.includes('replica handler failed on ended of rep_c'))).toBe(true);
  });

  it('refuses a second handler of a kind', () => {
    const { supervisor } = supervise({});
    supervisor.register(recorder('job', 'job_').handler);
    expect(() => supervisor.register(recorder('job', 'job_').handler)).toThrow(
      /job kind is already registered/,
    );
  });

  it('re-attaches every kind in one fixed order, and a failing kind does not stop the others', async () => {
    const { supervisor, logged } = supervise({});
    const order: string[] = [];
    const kind = (name: WorkloadKind, fail = false): WorkloadHandler => ({
      kind: name,
      owns: () => false,
      onEvent: () => {},
      reattach: async () => {
        order.push(name);
        if (fail) throw new Error(`${name} reattach broke`);
      },
    });
    supervisor.register(kind('replica'));
    supervisor.register(kind('notebook', true));
    supervisor.register(kind('job'));
    await expect(supervisor.reattach()).rejects.toThrow('notebook reattach broke');
    expect(order).toEqual(['job', 'notebook', 'replica']);
    expect(logged.some((line) => line.includes('notebook handler failed on re-attach'))).toBe(true);
  });

  it('meters every kind in one pass at one instant, and a failing kind does not stop the others', async () => {
    const { supervisor, logged } = supervise({});
    const metered: [string, number][] = [];
    const kind = (name: WorkloadKind, fail = false): WorkloadHandler => ({
      kind: name,
      owns: () => false,
      onEvent: () => {},
      meterDue: async (now) => {
        metered.push([name, now]);
        if (fail) throw new Error(`${name} ledger broke`);
      },
    });
    supervisor.register(kind('replica', true));
    supervisor.register(kind('job'));
    supervisor.register({ kind: 'notebook', owns: () => false, onEvent: () => {} }); // nothing to meter
    await expect(supervisor.meter(1_000)).rejects.toThrow('replica ledger broke');
    expect(metered).toEqual([
      ['job', 1_000],
      ['replica', 1_000],
    ]);
    expect(logged.some((line) => line.includes('replica handler failed on metering'))).toBe(true);
  });

  it('gives no handler an event after close', async () => {
    const executor = localExecutor();
    const { supervisor } = supervise({ local: executor });
    const jobs = recorder('job', 'job_');
    supervisor.register(jobs.handler);
    supervisor.close();
    const root = tempRoot();
    const ended = endsOf(executor, ['job_d']);
    await executor.start(spec(root, 'job_d', 'echo after close'));
    await ended;
    expect(jobs.events).toEqual([]);
  });
});
