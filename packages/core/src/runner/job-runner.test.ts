import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform } from '../testing/test-platform.ts';
import { jobPaths } from './job-paths.ts';

const repoCatalog = join(import.meta.dirname, '../../../../catalog');

/** The shipped catalog with a 1 s grace period, so limit tests stay short. */
function fastCatalog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aicloud-catalog-'));
  cpSync(repoCatalog, dir, { recursive: true });
  const file = join(dir, 'fine-tune.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('graceSeconds: 30', 'graceSeconds: 1'));
  return dir;
}

async function until<T>(what: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('job runner on the local executor', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;
  afterEach(async () => platform?.dispose());

  async function setUp() {
    platform = await createTestPlatform('sqlite', null, { catalogDir: fastCatalog(), meterIntervalMs: 200 });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    alice = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: null };
  }

  async function runToEnd(jobId: string) {
    return until(
      async () => {
        await platform.tick();
        await platform.runner.idle();
        return platform.jobs.get(alice, jobId);
      },
      (job) => !['admitted', 'queued', 'running'].includes(job.status),
    );
  }

  it('runs a job with its environment, masks secrets in the stored log, records metrics and meters its cost', async () => {
    await setUp();
    await platform.secrets.set(alice, 'legal-rag', 'API_KEY', 'sk-very-secret-value');
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 2,
      datasets: ['projects/legal-rag/datasets/v2'],
      secrets: ['API_KEY'],
      maxRuntime: '5m',
      command:
        'echo "devices=$CUDA_VISIBLE_DEVICES job=$AICLOUD_JOB_ID"; head -c 20 "$AICLOUD_DATASETS/train.jsonl"; echo; echo "key=$API_KEY"; ' +
        'echo \'{"event":"metric","step":1,"loss":2.5}\'; echo \'{"event":"metric","step":2,"loss":1.5}\'; sleep 1',
    });
    const ended = await runToEnd(job!.id);
    expect(ended.status).toBe('succeeded');
    expect(ended.gpuIndexes).toEqual([0, 1]);
    expect(ended.gpuSource).toBe('declared');
    const log = readFileSync(jobPaths(platform.dataDir, job!.id).logFile, 'utf8');
    expect(log).toContain(`devices=0,1 job=${job!.id}`);
    expect(log).toContain('{"prompt": "What');
    expect(log).toContain('key=***');
    expect(log).not.toContain('sk-very-secret-value');
    const metrics = await platform.store.db
      .selectFrom('job_metrics')
      .selectAll()
      .where('job_id', '=', job!.id)
      .orderBy('seq')
      .execute();
    expect(metrics.map((row) => [row.step, row.value])).toEqual([
      [1, 2.5],
      [2, 1.5],
    ]);
    const ledger = await platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('source_id', '=', job!.id)
      .execute();
    const runtimeHours = (Date.parse(ended.endedAt!) - Date.parse(ended.startedAt!)) / 3_600_000;
    const quantity = ledger.reduce((sum, row) => sum + row.quantity, 0);
    expect(quantity).toBeCloseTo(runtimeHours * 2, 6);
    expect(
      ledger.every(
        (row) => row.rate_micros === 3_670_000 && row.unit === 'gpu_hour' && row.category === 'training',
      ),
    ).toBe(true);
    const ledgerCost = ledger.reduce((sum, row) => sum + row.cost_micros, 0);
    expect(Math.abs(ledgerCost / 1e6 - ended.cost)).toBeLessThan(0.01);
    expect(Math.abs(ended.cost - runtimeHours * 2 * 3.67)).toBeLessThan(0.01);
    const tokens = await platform.store.db
      .selectFrom('api_tokens')
      .select(['revoked_at'])
      .where('scope', '=', `job:${job!.id}`)
      .execute();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.revoked_at).not.toBeNull();
  });

  it('stops a job that ignores SIGTERM at its limit plus the grace period: timed_out', async () => {
    await setUp();
    const started = Date.now();
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 1,
      maxRuntime: '2s',
      command: "trap '' TERM; sleep 60 & wait; sleep 60",
    });
    const ended = await runToEnd(job!.id);
    expect(ended.status).toBe('timed_out');
    expect(ended.reasons[0]?.code).toBe('runtime_limit');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('fails a job with its exit code and says where to look', async () => {
    await setUp();
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 1,
      maxRuntime: '1m',
      command: 'echo boom >&2; exit 3',
    });
    const ended = await runToEnd(job!.id);
    expect(ended).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(ended.reasons[0]?.next).toContain(`aicloud jobs logs ${job!.id}`);
  });

  it('cancels a running job through the same path (policy-checked)', async () => {
    await setUp();
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 1,
      maxRuntime: '1m',
      command: 'sleep 30',
    });
    await until(
      async () => {
        await platform.tick();
        return platform.jobs.get(alice, job!.id);
      },
      (current) => current.status === 'running',
    );
    await platform.jobs.cancel(alice, job!.id);
    const ended = await runToEnd(job!.id);
    expect(ended.status).toBe('cancelled');
  });

  it('carries out a cancel that arrives after the job is claimed but before its executor start returns', async () => {
    await setUp();
    // Hold the executor's start: the job is already `running` in the store, the executor does not know it yet.
    const local = platform.config.executors.local!;
    const realStart = local.start.bind(local);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    local.start = async (spec) => {
      await gate;
      return realStart(spec);
    };
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 1,
      maxRuntime: '1m',
      command: 'sleep 30',
    });
    const ticking = platform.tick();
    await until(
      () => platform.jobs.get(alice, job!.id),
      (current) => current.status === 'running',
    );
    await platform.jobs.cancel(alice, job!.id);
    release();
    await ticking;
    const started = Date.now();
    const ended = await runToEnd(job!.id);
    expect(ended.status).toBe('cancelled');
    // Stopped at once, not after its 30 s of sleep.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('restarts a preempted spot job with the same checkpoint dir', async () => {
    await setUp();
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 1,
      spot: true,
      maxRuntime: '1m',
      command:
        'n=$(cat "$AICLOUD_CHECKPOINT_DIR/step" 2>/dev/null || echo 0); echo "resumed from $n"; echo $((n+1)) > "$AICLOUD_CHECKPOINT_DIR/step"; if [ "$n" = 0 ]; then sleep 30; fi',
    });
    await until(
      async () => {
        await platform.tick();
        return platform.jobs.get(alice, job!.id);
      },
      (current) =>
        current.status === 'running' &&
        existsSync(join(jobPaths(platform.dataDir, job!.id).checkpointDir, 'step')),
    );
    await platform.runner.stop(job!.id, 'preempted');
    const ended = await runToEnd(job!.id);
    expect(ended.status).toBe('succeeded');
    const log = readFileSync(jobPaths(platform.dataDir, job!.id).logFile, 'utf8');
    expect(log).toContain('resumed from 0');
    expect(log).toContain('resumed from 1');
    const ledger = await platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('source_id', '=', job!.id)
      .execute();
    expect(ledger.every((row) => row.resource === 'gpu:A100:spot' && row.rate_micros === 1_470_000)).toBe(
      true,
    );
  });
});
