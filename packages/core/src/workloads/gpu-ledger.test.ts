import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { JUPYTER_BINARY } from '../notebooks/notebook-service.ts';
import { createTestPlatform } from '../testing/test-platform.ts';

// One GPU ledger for every kind of workload: a GPU a notebook holds is never given to a job, and
// admission does not promise jobs the capacity that notebooks hold.
describe('the GPU ledger across notebooks and jobs', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;

  beforeAll(async () => {
    if (!existsSync(JUPYTER_BINARY)) {
      throw new Error(
        `notebooks need Jupyter (${JUPYTER_BINARY}); as root: apt-get install jupyter-notebook`,
      );
    }
    platform = await createTestPlatform('sqlite', null);
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    alice = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: 'req_a' };
  });
  afterAll(async () => {
    if (!platform) return;
    await platform.notebooks.stopAll('test teardown');
    for (const job of await platform.store.db.selectFrom('jobs').select('id').execute()) {
      await platform.runner.stop(job.id, 'cancelled').catch(() => {});
    }
    await platform.dispose();
  });

  it('never gives a notebook’s GPU to a job, and queues the job that would need it', async () => {
    const notebook = await platform.notebooks.create(alice, { product: 'notebook-gpu', gpus: 1 });
    expect(notebook.status).toBe('running');
    const row = await platform.store.db
      .selectFrom('notebooks')
      .select(['gpu_indexes', 'gpu_type'])
      .where('id', '=', notebook.id)
      .executeTakeFirstOrThrow();
    const held = JSON.parse(row.gpu_indexes) as number[];
    expect(held).toHaveLength(1);
    const inventory = await platform.store.db
      .selectFrom('gpus')
      .select('device_index')
      .where('gpu_type', '=', row.gpu_type!)
      .execute();

    // As many one-GPU jobs as the machine has GPUs of that type: one of them cannot fit while the notebook runs.
    const outcomes: string[] = [];
    for (let index = 0; index < inventory.length; index += 1) {
      const { admission } = await platform.jobs.submit(alice, {
        product: 'fine-tune',
        gpus: 1,
        gpuType: row.gpu_type!,
        maxRuntime: '10m',
        name: `fill-${index}`,
        command: 'sleep 60',
      });
      outcomes.push(admission.outcome);
    }
    await platform.tick();
    const jobs = await platform.store.db
      .selectFrom('jobs')
      .select(['status', 'gpu_indexes'])
      .where('status', 'in', ['admitted', 'running', 'queued'])
      .execute();
    const given = jobs.flatMap((job) => JSON.parse(job.gpu_indexes) as number[]);

    expect(given).not.toContain(held[0]);
    expect(new Set(given).size).toBe(given.length);
    expect(jobs.filter((job) => job.status === 'running')).toHaveLength(inventory.length - 1);
    expect(outcomes.filter((outcome) => outcome === 'queued')).toHaveLength(1);
  }, 60_000);
});
