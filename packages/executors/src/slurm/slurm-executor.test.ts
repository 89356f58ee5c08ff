import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersistedWorkload, WorkloadStatus } from '../executor.ts';
import { recordEvents, tempRoot, testSpec, waitUntil } from '../local/testing/workload-test-kit.ts';
import { localSlurmRunner, type SlurmCommandRunner } from './slurm-command.ts';
import { createSlurmExecutor, type SlurmExecutor } from './slurm-executor.ts';

// Integration tests on a real Slurm cluster: the test setup (test/global-setup.ts) starts the project's own
// one-node cluster (scripts/services/slurm-up.sh: node1, 4 GPUs) unless AICLOUD_TEST_SLURM=1 says one is up.
// They never skip: without a usable cluster they fail, naming the fix.
const partition = process.env.AICLOUD_TEST_SLURM_PARTITION ?? 'gpu';
const unavailable = clusterProblem();
const noCluster = () =>
  new Error(
    `no usable Slurm cluster: ${unavailable}. Run \`npm test\` as root (its setup starts scripts/services/slurm-up.sh), ` +
      'or start one and set AICLOUD_TEST_SLURM=1',
  );

function clusterProblem(): string | undefined {
  try {
    const state = execFileSync('sinfo', ['-h', '-p', partition, '-o', '%a'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    return state.includes('up') ? undefined : `partition ${partition} is not up`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'sinfo is missing' : `sinfo failed: ${error}`;
  }
}

/** A runner that counts the commands it ran, by program. */
function countingRunner(): { run: SlurmCommandRunner; counts: Map<string, number> } {
  const inner = localSlurmRunner();
  const counts = new Map<string, number>();
  return {
    counts,
    run: (command, args, options) => {
      counts.set(command, (counts.get(command) ?? 0) + 1);
      return inner(command, args, options);
    },
  };
}

const submitted: string[] = [];
const executors: SlurmExecutor[] = [];

function executor(run?: SlurmCommandRunner): SlurmExecutor {
  const created = createSlurmExecutor({ partition, run, pollIntervalMs: 250, logPollIntervalMs: 100 });
  executors.push(created);
  const start = created.start.bind(created);
  created.start = async (spec) => {
    const handle = await start(spec);
    submitted.push(handle.externalId);
    return handle;
  };
  return created;
}

/** The final status of a workload, waiting as long as a busy two-CPU test cluster may need. */
async function ended(exec: SlurmExecutor, id: string, timeoutMs = 80_000): Promise<WorkloadStatus> {
  await waitUntil(() => exec.status(id) !== undefined && exec.status(id)?.state !== 'running', timeoutMs);
  return exec.status(id)!;
}

/** Waits until a workload logged a line containing `text`. */
async function logged(events: ReturnType<typeof recordEvents>, id: string, text: string): Promise<void> {
  await waitUntil(() => events.lines(id).some((line) => line.includes(text)), 80_000);
}

afterAll(async () => {
  for (const each of executors) await each.shutdown();
  // Whatever a failed test left in the queue.
  if (submitted.length > 0) await localSlurmRunner()('scancel', [...new Set(submitted)]);
});

describe('Slurm cluster', () => {
  it('is up', () => {
    if (unavailable) throw noCluster();
  });
});

describe.concurrent('Slurm executor on a real cluster', () => {
  beforeAll(() => {
    if (unavailable) throw noCluster();
  });

  it('runs a 2-GPU job that sees two devices, masks secrets and reports metrics with Slurm’s times', {
    timeout: 90_000,
  }, async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: `gpu2_${process.pid}`,
      gpus: ['0', '1'],
      secrets: { API_TOKEN: 'tok_s3cr3t_value' },
      command: `echo "devices=$CUDA_VISIBLE_DEVICES"; echo "token=$API_TOKEN"; echo '{"event":"metric","step":1}'`,
    });
    const handle = await exec.start(spec);
    expect(handle.externalId).toMatch(/^\d+$/);
    const status = await ended(exec, spec.id);
    expect(status).toMatchObject({ state: 'succeeded', exitCode: 0, reason: null });
    const devices = events.lines(spec.id).find((line) => line.startsWith('devices='));
    expect(devices?.slice('devices='.length).split(',')).toHaveLength(2);
    expect(events.lines(spec.id)).toContain('token=***');
    expect(readFileSync(spec.logFile, 'utf8')).not.toContain('tok_s3cr3t_value');
    expect(events.events.some((e) => e.type === 'metric' && e.metric.step === 1)).toBe(true);
    const started = events.events.find((e) => e.type === 'started');
    expect(started).toMatchObject({ externalId: handle.externalId, startedAt: status.startedAt });
    expect(status.endedAt).toBeGreaterThanOrEqual(status.startedAt);
    expect(status.startedAt % 1000).toBe(0); // Slurm's own times, in whole seconds
    expect(events.events.map((e) => e.type).at(-1)).toBe('ended');
  });

  it('charges a job to its account with --account; without slurmdbd Slurm records it and runs the job', {
    timeout: 90_000,
  }, async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: `account_${process.pid}`,
      account: 'legal-rag.ml_1',
      command: 'echo "account=$SLURM_JOB_ACCOUNT"',
    });
    const handle = await exec.start(spec);
    expect(await ended(exec, spec.id)).toMatchObject({ state: 'succeeded', exitCode: 0 });
    expect(events.lines(spec.id)).toContain('account=legal-rag.ml_1');
    const job = execFileSync('scontrol', ['show', 'job', handle.externalId, '-o'], { encoding: 'utf8' });
    expect(job).toMatch(/ Account=legal-rag\.ml_1 /);
  });

  it('refuses an account name Slurm could misread before anything is submitted', async () => {
    const counted = countingRunner();
    const exec = executor(counted.run);
    const spec = testSpec(tempRoot(), { id: `badaccount_${process.pid}`, account: 'a b', command: 'true' });
    await expect(exec.start(spec)).rejects.toThrow(/Slurm account "a b" must be letters, digits/);
    expect(counted.counts.get('sbatch') ?? 0).toBe(0);
    expect(exec.status(spec.id)).toBeUndefined();
  });

  it('ends a job over its runtime limit as timed_out after SIGTERM (Slurm enforces --time=1)', {
    timeout: 150_000,
  }, async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: `limit_${process.pid}`,
      maxRuntimeSeconds: 60,
      command: `trap 'echo got TERM; exit 143' TERM; echo started; sleep 100 & wait`,
    });
    await exec.start(spec);
    const status = await ended(exec, spec.id, 130_000);
    expect(status).toMatchObject({ state: 'timed_out', reason: 'runtime_limit' });
    expect(events.lines(spec.id)).toContain('got TERM');
    expect((status.endedAt ?? 0) - status.startedAt).toBeGreaterThanOrEqual(60_000);
  });

  it('enforces a runtime limit below Slurm’s minute itself', { timeout: 90_000 }, async () => {
    const exec = executor();
    const spec = testSpec(tempRoot(), {
      id: `short_${process.pid}`,
      maxRuntimeSeconds: 3,
      command: 'sleep 100',
    });
    await exec.start(spec);
    expect(await ended(exec, spec.id)).toMatchObject({ state: 'timed_out', reason: 'runtime_limit' });
  });

  it('cancels a running job with scancel: SIGTERM reaches the command, the end reads cancelled', {
    timeout: 90_000,
  }, async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: `cancel_${process.pid}`,
      command: `trap 'echo got TERM; exit 0' TERM; echo ready; sleep 100 & wait`,
    });
    await exec.start(spec);
    await logged(events, spec.id, 'ready');
    await exec.cancel(spec.id, 'user_request');
    expect(await ended(exec, spec.id)).toMatchObject({ state: 'cancelled', reason: 'user_request' });
    expect(events.lines(spec.id)).toContain('got TERM');
    await exec.cancel(spec.id, 'again'); // a no-op once ended
  });

  it('rejects a job asking for more GPUs than any node has, naming Slurm’s reason', {
    timeout: 30_000,
  }, async () => {
    const exec = executor();
    const spec = testSpec(tempRoot(), {
      id: `toomany_${process.pid}`,
      gpus: ['0', '1', '2', '3', '4'],
      command: 'true',
    });
    await expect(exec.start(spec)).rejects.toThrow(
      /Slurm refused .*Requested node configuration is not available/,
    );
    expect(exec.status(spec.id)).toBeUndefined();
    // The refused submission leaves a FAILED record in slurmctld; it is not mistaken for a job.
    expect(await exec.findByComment(spec.id)).toBeUndefined();
  });

  it('asks Slurm for the GPU type it bills as the partition names it: here untyped, so gpu:1; gpu:h100 is refused', {
    timeout: 90_000,
  }, async () => {
    // scripts/services/slurm-up.sh declares `Gres=gpu:4` without a type, as many small clusters do: the
    // executor reads that from sinfo and asks for any GPU; told the type is `h100`, it asks for that.
    const placement = { gpus: 1, gpuType: 'H100', spot: false, labels: {} };
    const typed = testSpec(tempRoot(), {
      id: `typed_${process.pid}`,
      gpus: ['0'],
      placement,
      command: 'true',
    });
    const told = createSlurmExecutor({ partition, gresTypes: { H100: 'h100' } });
    executors.push(told);
    await expect(told.start(typed)).rejects.toThrow(
      /Slurm refused .*Requested node configuration is not available/,
    );
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: `untyped_${process.pid}`,
      gpus: ['0'],
      placement,
      command: 'echo "devices=$CUDA_VISIBLE_DEVICES"',
    });
    const handle = await exec.start(spec);
    expect(handle.address).toBeUndefined();
    const shown = execFileSync('scontrol', ['show', 'job', handle.externalId, '-o'], { encoding: 'utf8' });
    expect(shown).toMatch(/TresPerNode=(gres:)?gpu:1\b/);
    expect(await ended(exec, spec.id)).toMatchObject({ state: 'succeeded' });
    await logged(events, spec.id, 'devices=');
  });

  it('reattaches a running job from a new executor instance and reports its end, never resubmitting', {
    timeout: 90_000,
  }, async () => {
    const first = countingRunner();
    const before = executor(first.run);
    const beforeEvents = recordEvents(before);
    const spec = testSpec(tempRoot(), {
      id: `reattach_${process.pid}`,
      command: 'echo one; sleep 4; echo two',
    });
    const handle = await before.start(spec);
    await logged(beforeEvents, spec.id, 'one');
    await before.shutdown(); // as if aicloud were killed: the job keeps running on Slurm

    const second = countingRunner();
    const after = executor(second.run);
    const afterEvents = recordEvents(after);
    const persisted: PersistedWorkload = { ...handle, spec };
    const status = await after.reattach(persisted);
    expect(status.state).toBe('running');
    const startedBefore = beforeEvents.events.find((e) => e.type === 'started' && e.id === spec.id);
    expect(startedBefore).toMatchObject({ startedAt: status.startedAt });
    const final = await ended(after, spec.id);
    expect(final).toMatchObject({ state: 'succeeded', exitCode: 0 });
    expect(afterEvents.lines(spec.id)).toEqual(['two']);
    expect(readFileSync(spec.logFile, 'utf8')).toBe('one\ntwo\n');
    expect(first.counts.get('sbatch')).toBe(1);
    expect(second.counts.get('sbatch') ?? 0).toBe(0);
    // Once ended, reattaching again answers the final status without an event.
    expect(await after.reattach(persisted)).toEqual(final);
  });

  it('finds a job by its comment when a start is retried after a crash, instead of submitting twice', {
    timeout: 90_000,
  }, async () => {
    const first = countingRunner();
    const crashed = executor(first.run);
    const spec = testSpec(tempRoot(), { id: `retry_${process.pid}`, command: 'sleep 2; echo done' });
    const handle = await crashed.start(spec);
    await crashed.shutdown(); // the caller never saved handle.externalId

    const second = countingRunner();
    const restarted = executor(second.run);
    const events = recordEvents(restarted);
    expect((await restarted.findByComment(spec.id))?.jobId).toBe(handle.externalId);
    const again = await restarted.start(spec);
    expect(again.externalId).toBe(handle.externalId);
    expect(await ended(restarted, spec.id)).toMatchObject({ state: 'succeeded' });
    expect(events.lines(spec.id)).toContain('done');
    expect(second.counts.get('sbatch') ?? 0).toBe(0);
  });
});
