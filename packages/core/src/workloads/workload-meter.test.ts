import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform } from '../testing/test-platform.ts';
import { estimateMicros, hourlyRateMicros } from './workload-meter.ts';

const repoRoot = join(import.meta.dirname, '../../../..');
const prices = { A100: { onDemand: 3.67, spot: 1.47 }, cpu: { onDemand: 0.19, spot: 0.08 } };

describe('the one price rule', () => {
  it('prices a GPU by its type, spot or on-demand, a CPU workload by the CPU machine', () => {
    expect(hourlyRateMicros(prices, { gpus: 2, gpuType: 'A100', spot: false })).toBe(3_670_000);
    expect(hourlyRateMicros(prices, { gpus: 1, gpuType: 'A100', spot: true })).toBe(1_470_000);
    expect(hourlyRateMicros(prices, { gpus: 0, gpuType: null, spot: false })).toBe(190_000);
    expect(hourlyRateMicros(prices, { gpus: 1, gpuType: 'H100', spot: false })).toBe(0);
    // Two GPUs for 90 minutes at 3.67 $/GPU-hour.
    expect(estimateMicros(3_670_000, { gpus: 2, gpuType: 'A100', spot: false }, 5400)).toBe(11_010_000);
  });
});

describe('the rate is fixed at admission', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;
  let admin: Actor;

  beforeAll(async () => {
    platform = await createTestPlatform('sqlite', null, { meterIntervalMs: 100 });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    alice = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: null };
    admin = { principal: await platform.identity.authenticate(credentials.admin.token), requestId: null };
  });
  afterAll(async () => platform?.dispose());

  it('bills a job at the price it was admitted at, not at a price set after', async () => {
    const { job: submitted, admission } = await platform.jobs.submit(alice, {
      product: 'batch-inference',
      maxRuntime: '5m',
      name: 'fixed-rate',
      command: 'sleep 0.5',
    });
    expect(admission.outcome).toBe('admitted');
    if (!submitted) throw new Error('no job');
    const job = submitted;
    const product = await platform.catalog.get('batch-inference');
    const { spot } = await platform.store.db
      .selectFrom('jobs')
      .select('spot')
      .where('id', '=', job.id)
      .executeTakeFirstOrThrow();
    const admittedRate = hourlyRateMicros(product.prices, { gpus: 0, gpuType: null, spot: spot === 1 });
    expect(admittedRate).toBeGreaterThan(0);
    // A platform-admin raises the price tenfold before the job starts.
    const spec = parse(readFileSync(join(repoRoot, 'catalog/batch-inference.yaml'), 'utf8'));
    spec.prices.cpu = { onDemand: spec.prices.cpu.onDemand * 10, spot: spec.prices.cpu.spot * 10 };
    await platform.catalog.put(admin, spec);
    const raised = (await platform.catalog.get('batch-inference')).prices;
    expect(hourlyRateMicros(raised, { gpus: 0, gpuType: null, spot: spot === 1 })).toBe(admittedRate * 10);

    const deadline = Date.now() + 20_000;
    for (;;) {
      await platform.tick();
      await platform.runner.idle();
      const current = await platform.jobs.get(alice, job.id);
      if (!['admitted', 'queued', 'running'].includes(current.status)) {
        expect(current.status).toBe('succeeded');
        break;
      }
      if (Date.now() > deadline) throw new Error(`job still ${current.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const rows = await platform.store.db
      .selectFrom('usage_ledger')
      .select(['rate_micros', 'quantity', 'cost_micros'])
      .where('source_id', '=', job.id)
      .execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.rate_micros).toBe(admittedRate);
  }, 40_000);
});
