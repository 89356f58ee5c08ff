import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Executor } from '../executor.ts';
import { createLocalExecutor } from './local-executor.ts';
import {
  killSurvivors,
  pidOf,
  recordEvents,
  survivors,
  tempRoot,
  testSpec,
} from './testing/workload-test-kit.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'train_log.jsonl');
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

async function run(exec: Executor, spec: ReturnType<typeof testSpec>) {
  const events = recordEvents(exec);
  const handle = await exec.start(spec);
  cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
  const status = await events.ended(spec.id);
  return { handle, status, events, log: readFileSync(spec.logFile, 'utf8') };
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('local executor', () => {
  it('runs a command to success, logging stdout and stderr and measuring CPU', async () => {
    const root = tempRoot();
    const exec = executor();
    const spec = testSpec(root, {
      id: 'job_ok',
      command:
        'echo hello; echo oops >&2; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; printf "no newline"',
    });
    const { handle, status, events, log } = await run(exec, spec);

    expect(handle.externalId).toMatch(/^\d+:\d+$/);
    expect(events.events[0]).toEqual({
      type: 'started',
      id: 'job_ok',
      externalId: handle.externalId,
      startedAt: handle.startedAt,
    });
    expect(status).toMatchObject({
      id: 'job_ok',
      state: 'succeeded',
      exitCode: 0,
      signal: null,
      reason: null,
    });
    expect(status.endedAt).toBeGreaterThanOrEqual(status.startedAt);
    expect(status.cpuSeconds).toBeGreaterThan(0);
    expect(log.split('\n').sort()).toEqual(['', 'hello', 'no newline', 'oops']);
    const logEvents = events.events.filter((e) => e.type === 'log');
    expect(logEvents).toContainEqual(expect.objectContaining({ stream: 'stdout', line: 'hello' }));
    expect(logEvents).toContainEqual(expect.objectContaining({ stream: 'stderr', line: 'oops' }));
    expect(events.events.at(-1)?.type).toBe('ended');
    expect(exec.status('job_ok')).toEqual(status);
    // The raw spools hold unmasked output; they are gone once the workload ended.
    expect(readdirSync(join(spec.workDir, '.aicloud')).filter((name) => name.endsWith('.stdout'))).toEqual(
      [],
    );
  });

  it('reports a non-zero exit code as failed with its reason', async () => {
    const { status } = await run(
      executor(),
      testSpec(tempRoot(), { id: 'job_fail', command: 'echo about to fail; exit 3' }),
    );
    expect(status).toMatchObject({ state: 'failed', exitCode: 3, signal: null, reason: 'exit_code_3' });
  });

  it('reports a command killed by a signal it was not sent by the executor', async () => {
    const { status } = await run(
      executor(),
      testSpec(tempRoot(), { id: 'job_segv', command: 'kill -SEGV $$' }),
    );
    expect(status).toMatchObject({
      state: 'failed',
      exitCode: null,
      signal: 'SIGSEGV',
      reason: 'signal_SIGSEGV',
    });
  });

  it('gives the workload a minimal environment, its variables, secrets, directories and GPUs', async () => {
    process.env.AICLOUD_TEST_SERVER_ONLY = 'leak';
    const root = tempRoot();
    const exec = executor();
    const command =
      'env | sort; pwd; [ "$API_TOKEN" = "tok-123456" ] && echo token-present; [ -d "$AICLOUD_OUTPUT_DIR" ] && echo output-dir-ok';
    const withGpus = testSpec(root, {
      id: 'job_env',
      command,
      env: { FOO: 'bar', CUDA_VISIBLE_DEVICES: 'all' },
      gpus: ['1', '3'],
      secrets: { API_TOKEN: 'tok-123456' },
    });
    const { status, log } = await run(exec, withGpus);
    delete process.env.AICLOUD_TEST_SERVER_ONLY;

    expect(status.state).toBe('succeeded');
    const lines = log.split('\n');
    expect(lines).toContain('FOO=bar');
    expect(lines).toContain('CUDA_VISIBLE_DEVICES=1,3');
    expect(lines).toContain('AICLOUD_WORKLOAD_ID=job_env');
    expect(lines).toContain(`AICLOUD_OUTPUT_DIR=${withGpus.outputDir}`);
    expect(lines).toContain(`AICLOUD_CHECKPOINT_DIR=${withGpus.checkpointDir}`);
    expect(lines).toContain('API_TOKEN=***');
    expect(lines).toContain('token-present');
    expect(lines).toContain('output-dir-ok');
    expect(lines).toContain(withGpus.workDir);
    expect(lines.some((line) => line.startsWith('PATH='))).toBe(true);
    expect(log).not.toContain('AICLOUD_TEST_SERVER_ONLY');
    expect(existsSync(withGpus.checkpointDir)).toBe(true);

    const noGpus = testSpec(root, {
      id: 'job_env_nogpu',
      command: 'echo "[$CUDA_VISIBLE_DEVICES]"; env | grep -c ^CUDA_VISIBLE_DEVICES=',
    });
    const second = await run(exec, noGpus);
    expect(second.log).toBe('[]\n1\n');
  });

  it('masks secrets in the log file and events, also when a secret is written in two pieces', async () => {
    const exec = executor();
    const secret = 'sk-live-0123456789abcdef';
    const spec = testSpec(tempRoot(), {
      id: 'job_secret',
      // The second half arrives after the executor has already read the first one.
      command: `echo "token=$API_KEY"; printf 'abc%s' "\${API_KEY%????????}"; sleep 0.4; printf '%s tail\\n' "\${API_KEY#\${API_KEY%????????}}"; echo "$API_KEY" >&2`,
      secrets: { API_KEY: secret },
    });
    const { status, events, log } = await run(exec, spec);

    expect(status.state).toBe('succeeded');
    expect(log).not.toContain(secret);
    expect(log).not.toContain('0123456789');
    expect(log.split('\n')).toEqual(expect.arrayContaining(['token=***', 'abc*** tail', '***']));
    const lines = events.lines('job_secret');
    expect(lines).toEqual(expect.arrayContaining(['token=***', 'abc*** tail', '***']));
    expect(lines.join('\n')).not.toContain('0123456789');
  });

  it('turns JSON metric lines on stdout into metric events and still logs them', async () => {
    const exec = executor();
    const spec = testSpec(tempRoot(), {
      id: 'job_metrics',
      command: `cat '${fixture}'; echo '{"event":"metric"' >&2`,
    });
    const { status, events, log } = await run(exec, spec);
    const source = readFileSync(fixture, 'utf8').trim().split('\n');

    expect(status.state).toBe('succeeded');
    const metrics = events.events.flatMap((e) => (e.type === 'metric' ? [e.metric] : []));
    expect(metrics).toHaveLength(source.filter((line) => line.includes('"event": "metric"')).length);
    expect(metrics.length).toBeGreaterThan(50);
    expect(metrics[0]).toEqual({
      event: 'metric',
      step: 10,
      loss: 10.874,
      tokens_per_s: 26852,
      gpu_mem_alloc_mb: 1834,
      gpu_mem_reserved_mb: 7852,
      elapsed_s: 3.05,
    });
    expect(metrics.every((metric) => metric.event === 'metric')).toBe(true);
    expect(log.trim().split('\n')).toHaveLength(source.length + 1);
  });

  it('refuses a second workload with the id of a running one', async () => {
    const exec = executor();
    const root = tempRoot();
    const spec = testSpec(root, { id: 'job_dup', command: 'sleep 0.5' });
    const events = recordEvents(exec);
    const handle = await exec.start(spec);
    cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
    await expect(exec.start(spec)).rejects.toThrow(/already running/);
    expect((await events.ended('job_dup')).state).toBe('succeeded');
    expect(survivors(pidOf(handle.externalId), spec.id)).toEqual([]);
  });
});
