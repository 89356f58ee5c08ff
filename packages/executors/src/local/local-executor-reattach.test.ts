import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Executor, PersistedWorkload, WorkloadSpec } from '../executor.ts';
import { createLocalExecutor } from './local-executor.ts';
import { isRunning, readProc } from './proc-table.ts';
import {
  killSurvivors,
  pidOf,
  recordEvents,
  survivors,
  tempRoot,
  testSpec,
  waitUntil,
} from './testing/workload-test-kit.ts';

const cleanups: (() => Promise<void> | void)[] = [];

function executor(): Executor {
  const created = createLocalExecutor({
    killCheckIntervalMs: 100,
    logPollIntervalMs: 50,
    // Process handling as such; local-executor-sandbox.test.ts runs the same under the sandbox.
    isolation: 'none',
  });
  cleanups.push(() => created.shutdown());
  return created;
}

/** Starts a workload on one executor instance and shuts that instance down, as a server restart would. */
async function startThenRestart(
  spec: WorkloadSpec,
  beforeRestart?: (exec: Executor, events: ReturnType<typeof recordEvents>) => Promise<void>,
) {
  const first = executor();
  const events = recordEvents(first);
  const handle = await first.start(spec);
  cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
  await beforeRestart?.(first, events);
  await first.shutdown();
  const persisted: PersistedWorkload = { ...handle, spec };
  return { persisted, firstLines: events.lines(spec.id) };
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('local executor reattach', () => {
  it('reattaches a running workload, keeps its log whole and enforces the original runtime limit', async () => {
    const spec = testSpec(tempRoot(), {
      id: 'job_reattach',
      maxRuntimeSeconds: 2,
      graceSeconds: 1,
      command: `trap '' TERM; i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.1; done`,
    });
    const { persisted, firstLines } = await startThenRestart(spec, async (_first, firstEvents) => {
      await firstEvents.logged(spec.id, 'line 2');
    });
    // Nobody reads the output for a while; the workload keeps writing without dying of SIGPIPE.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const second = executor();
    const events = recordEvents(second);
    const reattached = await second.reattach(persisted);
    expect(reattached).toMatchObject({
      id: 'job_reattach',
      state: 'running',
      startedAt: persisted.startedAt,
    });
    expect(second.status('job_reattach')?.state).toBe('running');

    const status = await events.ended('job_reattach');

    expect(status).toMatchObject({ state: 'timed_out', reason: 'runtime_limit' });
    expect(status.endedAt! - persisted.startedAt).toBeGreaterThanOrEqual(3000);
    expect(status.endedAt! - persisted.startedAt).toBeLessThan(5000);
    expect(survivors(pidOf(persisted.externalId), spec.id)).toEqual([]);
    const lines = readFileSync(spec.logFile, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(15);
    expect(lines).toEqual(lines.map((_, i) => `line ${i + 1}`));
    // The second instance reports exactly the lines the first one had not.
    expect([...firstLines, ...events.lines('job_reattach')]).toEqual(lines);
    expect(events.lines('job_reattach').length).toBeGreaterThan(5);
  });

  it('reattaches after the server process was killed with SIGKILL', async () => {
    const spec = testSpec(tempRoot(), {
      id: 'job_after_crash',
      maxRuntimeSeconds: 20,
      command: 'for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 0.2; done; exit 5',
    });
    const tsx = join(import.meta.dirname, '..', '..', '..', '..', 'node_modules', '.bin', 'tsx');
    const script = join(import.meta.dirname, 'testing', 'start-and-die.ts');
    const output = await promisify(execFile)(tsx, [script, JSON.stringify(spec)]).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
    );
    const handle = JSON.parse(output.stdout);
    cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
    const exec = executor();
    const events = recordEvents(exec);

    // The wrapper is now an orphan; where nothing reaps orphans it ends as a zombie, which counts as ended.
    expect((await exec.reattach({ ...handle, spec })).state).toBe('running');
    const status = await events.ended(spec.id);

    expect(status).toMatchObject({ state: 'failed', exitCode: 5, reason: 'exit_code_5' });
    expect(readFileSync(spec.logFile, 'utf8')).toBe(
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `tick ${i}\n`).join(''),
    );
  });

  it('keeps the exit code across a restart', async () => {
    const spec = testSpec(tempRoot(), { id: 'job_exit_after_restart', command: 'sleep 0.6; exit 3' });
    const { persisted } = await startThenRestart(spec);
    const second = executor();
    const events = recordEvents(second);

    expect((await second.reattach(persisted)).state).toBe('running');
    const status = await events.ended(spec.id);

    expect(status).toMatchObject({ state: 'failed', exitCode: 3, reason: 'exit_code_3' });
  });

  it('reports a workload that ended while no executor watched, without an ended event', async () => {
    const spec = testSpec(tempRoot(), { id: 'job_ended_unwatched', command: 'echo bye; exit 4' });
    const { persisted } = await startThenRestart(spec);
    await waitUntil(() => !isRunning(readProc(pidOf(persisted.externalId))));
    const second = executor();
    const events = recordEvents(second);

    const status = await second.reattach(persisted);

    expect(status).toMatchObject({ state: 'failed', exitCode: 4, reason: 'exit_code_4' });
    expect(second.status(spec.id)).toEqual(status);
    expect(readFileSync(spec.logFile, 'utf8')).toBe('bye\n');
    expect(events.events.filter((event) => event.type === 'ended')).toEqual([]);
  });

  it('finishes a cancel that a previous instance began', async () => {
    const spec = testSpec(tempRoot(), {
      id: 'job_cancel_across_restart',
      graceSeconds: 1,
      command: `trap '' TERM; echo ready; sleep 1000`,
    });
    const { persisted } = await startThenRestart(spec, async (first, firstEvents) => {
      await firstEvents.logged(spec.id, 'ready');
      await first.cancel(spec.id, 'cancelled_by_user');
    });
    const second = executor();
    const events = recordEvents(second);

    expect((await second.reattach(persisted)).state).toBe('running');
    const status = await events.ended(spec.id);

    expect(status).toMatchObject({ state: 'cancelled', reason: 'cancelled_by_user', signal: 'SIGKILL' });
    expect(survivors(pidOf(persisted.externalId), spec.id)).toEqual([]);
  });

  it('reports lost when the process is gone without an exit code, or its pid now names another process', async () => {
    const root = tempRoot();
    const exec = executor();
    const child = spawn('/bin/sh', ['-c', 'exit 0']);
    const starttime = readProc(child.pid!)?.starttime;
    await once(child, 'exit');
    const gone = testSpec(root, { id: 'job_gone', command: 'true' });

    const status = await exec.reattach({
      id: gone.id,
      externalId: `${child.pid}:${starttime}`,
      startedAt: Date.now() - 5000,
      spec: gone,
    });

    expect(status).toMatchObject({ state: 'lost', reason: 'process_gone', exitCode: null });
    const reused = testSpec(root, { id: 'job_reused', command: 'true' });
    const wrongProcess = await exec.reattach({
      id: reused.id,
      externalId: `${process.pid}:1`,
      startedAt: Date.now(),
      spec: reused,
    });
    expect(wrongProcess.state).toBe('lost');
    expect(isRunning(readProc(process.pid))).toBe(true);
  });
});
