import { afterEach, describe, expect, it } from 'vitest';
import type { Executor } from '../executor.ts';
import { createLocalExecutor } from './local-executor.ts';
import { isRunning, readProc } from './proc-table.ts';
import {
  killSurvivors,
  pidOf,
  recordEvents,
  survivors,
  tempRoot,
  testSpec,
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

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('local executor termination', () => {
  it('times out a job that ignores SIGTERM: SIGKILL at limit + grace, no descendant survives, escapees included', async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: 'job_stubborn',
      maxRuntimeSeconds: 1,
      graceSeconds: 1,
      // A background child in the group, and one that leaves the session and whose parent exits at once.
      command: [
        "trap '' TERM",
        'sleep 1000 &',
        `sh -c 'setsid sh -c "exec sleep 1001" & echo escapee=$!'`,
        'echo ready',
        'wait',
      ].join('\n'),
    });
    const handle = await exec.start(spec);
    const pgid = pidOf(handle.externalId);
    cleanups.push(() => killSurvivors(pgid, spec.id));
    await events.logged(spec.id, 'ready');
    const escapeeLine = events.lines(spec.id).find((line) => line.startsWith('escapee='));
    const escapee = Number(escapeeLine?.slice('escapee='.length));
    const escapeeProc = readProc(escapee);
    expect(isRunning(escapeeProc)).toBe(true);
    expect(escapeeProc?.pgid).not.toBe(pgid);
    expect(survivors(pgid, spec.id).length).toBeGreaterThanOrEqual(4);

    const status = await events.ended(spec.id);

    expect(status).toMatchObject({
      state: 'timed_out',
      reason: 'runtime_limit',
      signal: 'SIGKILL',
      exitCode: null,
    });
    expect(status.endedAt! - status.startedAt).toBeGreaterThanOrEqual(2000);
    expect(status.endedAt! - status.startedAt).toBeLessThan(4000);
    expect(survivors(pgid, spec.id)).toEqual([]);
    const after = readProc(escapee);
    expect(isRunning(after) && after.starttime === escapeeProc?.starttime).toBe(false);
  });

  it('cancels a job: SIGTERM lets it finish cleanly within the grace period', async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: 'job_cancel',
      graceSeconds: 5,
      command: `trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.1; done`,
    });
    const handle = await exec.start(spec);
    cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
    await events.logged(spec.id, 'ready');
    const cancelledAt = Date.now();
    await exec.cancel(spec.id, 'cancelled_by_user');
    await exec.cancel(spec.id, 'cancelled_twice');

    const status = await events.ended(spec.id);

    expect(status).toMatchObject({
      state: 'cancelled',
      reason: 'cancelled_by_user',
      exitCode: 0,
      signal: null,
    });
    expect(Date.now() - cancelledAt).toBeLessThan(2000);
    expect(events.lines(spec.id)).toContain('got-term');
    expect(survivors(pidOf(handle.externalId), spec.id)).toEqual([]);
    await expect(exec.cancel(spec.id, 'after the end')).resolves.toBeUndefined();
    await expect(exec.cancel('job_unknown', 'never started')).resolves.toBeUndefined();
    expect(exec.status(spec.id)?.state).toBe('cancelled');
  });

  it('cancels a job that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: 'job_cancel_kill',
      graceSeconds: 1,
      command: `trap '' TERM; echo ready; sleep 1000`,
    });
    const handle = await exec.start(spec);
    cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
    await events.logged(spec.id, 'ready');
    const cancelledAt = Date.now();
    await exec.cancel(spec.id, 'cancelled_by_user');

    const status = await events.ended(spec.id);

    expect(status).toMatchObject({ state: 'cancelled', reason: 'cancelled_by_user', signal: 'SIGKILL' });
    expect(Date.now() - cancelledAt).toBeGreaterThanOrEqual(1000);
    expect(survivors(pidOf(handle.externalId), spec.id)).toEqual([]);
  });

  it('stops what a finished command left running before reporting the end', async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), { id: 'job_leftover', command: 'sleep 1000 & echo done' });
    const handle = await exec.start(spec);
    cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));

    const status = await events.ended(spec.id);

    expect(status).toMatchObject({ state: 'succeeded', exitCode: 0, reason: null });
    expect(survivors(pidOf(handle.externalId), spec.id)).toEqual([]);
  });
});
