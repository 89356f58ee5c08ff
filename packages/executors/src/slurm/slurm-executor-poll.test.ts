import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordEvents, tempRoot, testSpec } from '../local/testing/workload-test-kit.ts';
import type { SlurmCommandRunner } from './slurm-command.ts';
import { createSlurmExecutor, type SlurmExecutor } from './slurm-executor.ts';

/** A fake Slurm: sbatch numbers jobs, squeue --json lists those in `queue`, sacct those in `done`. */
function fakeSlurm() {
  let nextId = 100;
  const queue = new Map<string, Record<string, unknown>>();
  const done = new Map<string, string>();
  const commands: string[] = [];
  const scripts: string[] = [];
  const run: SlurmCommandRunner = async (command, args, options) => {
    commands.push(command);
    if (command === 'sbatch') {
      const script = options?.input ?? '';
      scripts.push(script);
      if (script.includes('--gres=gpu:5')) {
        return {
          code: 1,
          stdout: '',
          stderr:
            'sbatch: error: Batch job submission failed: Requested node configuration is not available\n',
        };
      }
      const id = String(nextId++);
      const comment = /--comment=(\S+)/.exec(script)?.[1] ?? '';
      const name = /--job-name=(\S+)/.exec(script)?.[1] ?? '';
      queue.set(id, {
        job_id: Number(id),
        name,
        comment,
        job_state: 'PENDING',
        batch_host: '',
        exit_code: 0,
      });
      return { code: 0, stdout: `${id}\n`, stderr: '' };
    }
    if (command === 'squeue')
      return { code: 0, stdout: JSON.stringify({ jobs: [...queue.values()] }), stderr: '' };
    if (command === 'sacct') {
      const ids = (args[args.indexOf('-j') + 1] ?? '').split(',');
      return { code: 0, stdout: ids.flatMap((id) => done.get(id) ?? []).join('\n'), stderr: '' };
    }
    return { code: 0, stdout: '', stderr: '' };
  };
  const set = (id: string, fields: Record<string, unknown>) => queue.set(id, { ...queue.get(id), ...fields });
  return { run, queue, done, commands, scripts, set };
}

const executors: SlurmExecutor[] = [];
afterEach(async () => {
  for (const each of executors.splice(0)) await each.shutdown();
});

function setup(now = { value: 1_800_000_000_000 }) {
  const slurm = fakeSlurm();
  // A long interval: the test drives the cycles with poll().
  const exec = createSlurmExecutor({
    partition: 'gpu',
    run: slurm.run,
    pollIntervalMs: 3_600_000,
    clock: { now: () => now.value },
  });
  executors.push(exec);
  return { slurm, exec, events: recordEvents(exec), root: tempRoot(), now };
}

describe('Slurm executor polling (fake Slurm)', () => {
  it('tracks any number of jobs with one squeue per cycle, plus one sacct for those that left the queue', async () => {
    const { slurm, exec, events, root } = setup();
    const ids = Array.from({ length: 120 }, (_, n) => `job_${n}`);
    const handles = await Promise.all(ids.map((id) => exec.start(testSpec(root, { id, command: 'true' }))));
    expect(slurm.commands.filter((c) => c === 'sbatch')).toHaveLength(120);
    expect(slurm.commands.filter((c) => c === 'squeue')).toHaveLength(1); // the snapshot before the first submit

    for (const { externalId } of handles) {
      slurm.set(externalId, { job_state: 'RUNNING', start_time: 1_800_000_100, batch_host: 'node1' });
    }
    await exec.poll();
    expect(exec.pollStats()).toMatchObject({ lastCycleCommands: 1, lastCycleJobs: 120 });
    expect(events.events.filter((e) => e.type === 'started')).toHaveLength(120);
    expect(exec.status('job_0')).toMatchObject({ state: 'running', startedAt: 1_800_000_100_000 });

    // Half finish while still in slurmctld's memory, half were purged and are only in the completion file.
    handles.forEach(({ externalId }, n) => {
      if (n % 2 === 0) slurm.set(externalId, { job_state: 'COMPLETED', end_time: 1_800_000_160 });
      else {
        slurm.queue.delete(externalId);
        slurm.done.set(
          externalId,
          `${externalId}|aic-job_${n}|FAILED|3:0|2027-01-15T08:01:40|2027-01-15T08:02:40`,
        );
      }
    });
    await exec.poll();
    expect(exec.pollStats()).toMatchObject({ lastCycleCommands: 2, lastCycleJobs: 120, maxCycleCommands: 2 });
    await vi.waitFor(() => expect(events.events.filter((e) => e.type === 'ended')).toHaveLength(120));
    expect(exec.status('job_0')).toMatchObject({
      state: 'succeeded',
      startedAt: 1_800_000_100_000,
      endedAt: 1_800_000_160_000,
    });
    expect(exec.status('job_1')).toMatchObject({ state: 'failed', reason: 'exit_code_3', exitCode: 3 });
  });

  it('reads a job neither squeue nor sacct knows as lost, after two cycles', async () => {
    const { slurm, exec, events, root } = setup();
    const { externalId } = await exec.start(testSpec(root, { id: 'vanishing', command: 'true' }));
    slurm.queue.delete(externalId);
    await exec.poll();
    await exec.poll();
    const status = await events.ended('vanishing');
    expect(status).toMatchObject({ state: 'lost', reason: 'job_gone' });
    expect(events.events.map((e) => e.type)).toEqual(['started', 'ended']);
  });

  it('cancels overdue jobs whose limit is not a whole minute with one scancel, as timed_out', async () => {
    const now = { value: 1_800_000_000_000 };
    const { slurm, exec, events, root } = setup(now);
    const handles = await Promise.all(
      ['a', 'b'].map((id) => exec.start(testSpec(root, { id, command: 'sleep 100', maxRuntimeSeconds: 90 }))),
    );
    for (const { externalId } of handles) {
      slurm.set(externalId, { job_state: 'RUNNING', start_time: 1_800_000_000, batch_host: 'node1' });
    }
    await exec.poll();
    expect(slurm.commands.filter((c) => c === 'scancel')).toHaveLength(0);
    now.value += 90_000;
    await exec.poll();
    expect(slurm.commands.filter((c) => c === 'scancel')).toHaveLength(1);
    expect(exec.pollStats().lastCycleCommands).toBe(2);
    for (const { externalId } of handles)
      slurm.set(externalId, { job_state: 'CANCELLED', end_time: 1_800_000_091 });
    await exec.poll();
    expect(await events.ended('a')).toMatchObject({ state: 'timed_out', reason: 'runtime_limit' });
  });

  it('refuses at submit with Slurm’s reason and renders the spec into the script', async () => {
    const { slurm, exec, root } = setup();
    const spec = testSpec(root, { id: 'big', command: 'true', gpus: ['0', '1', '2', '3', '4'], cpus: 8 });
    await expect(exec.start(spec)).rejects.toThrow(
      'Slurm refused workload big: Requested node configuration is not available',
    );
    expect(slurm.scripts[0]).toContain('#SBATCH --cpus-per-task=8');
    expect(exec.status('big')).toBeUndefined();
  });

  it('adopts a job an earlier instance submitted with the same comment instead of submitting again', async () => {
    const { slurm, exec, root } = setup();
    slurm.queue.set('77', {
      job_id: 77,
      name: 'aic-again',
      comment: 'aicloud:again',
      job_state: 'RUNNING',
      start_time: 1_800_000_000,
      batch_host: 'node1',
    });
    const handle = await exec.start(testSpec(root, { id: 'again', command: 'true' }));
    expect(handle).toEqual({ id: 'again', externalId: '77', startedAt: 1_800_000_000_000 });
    expect(slurm.commands).not.toContain('sbatch');
    await expect(exec.start(testSpec(root, { id: 'again', command: 'true' }))).rejects.toThrow(
      /already running/,
    );
    slurm.set('77', { job_state: 'COMPLETED', end_time: 1_800_000_010 });
    await exec.poll();
    await vi.waitFor(() => expect(exec.status('again')?.state).toBe('succeeded'));
    // Once its end was reported, the same id is not adopted (and metered) a second time.
    await expect(exec.start(testSpec(root, { id: 'again', command: 'true' }))).rejects.toThrow(
      /already ran as Slurm job 77/,
    );
    expect(slurm.commands).not.toContain('sbatch');
  });
});
