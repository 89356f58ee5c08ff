import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { JUPYTER_BINARY } from '../notebooks/notebook-service.ts';
import { createTestPlatform } from '../testing/test-platform.ts';
import { trainTinyModel } from '../testing/tiny-model.ts';

/**
 * Submits as many one-GPU jobs of a type as the machine has GPUs of it, runs a tick, and returns how each was
 * admitted, the jobs that hold or wait for GPUs, and the GPUs they were given.
 */
async function fillWithJobs(
  platform: Awaited<ReturnType<typeof createTestPlatform>>,
  actor: Actor,
  gpuType: string,
  name: string,
) {
  const inventory = await platform.store.db
    .selectFrom('gpus')
    .select('device_index')
    .where('gpu_type', '=', gpuType)
    .execute();
  const outcomes: string[] = [];
  for (let index = 0; index < inventory.length; index += 1) {
    const { admission } = await platform.jobs.submit(actor, {
      product: 'fine-tune',
      gpus: 1,
      gpuType,
      maxRuntime: '10m',
      name: `${name}-${index}`,
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
  return { inventory: inventory.length, outcomes, jobs, given };
}

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
    // As many one-GPU jobs as the machine has GPUs of that type: one of them cannot fit while the notebook runs.
    const { inventory, outcomes, jobs, given } = await fillWithJobs(platform, alice, row.gpu_type!, 'fill');

    expect(given).not.toContain(held[0]);
    expect(new Set(given).size).toBe(given.length);
    expect(jobs.filter((job) => job.status === 'running')).toHaveLength(inventory - 1);
    expect(outcomes.filter((outcome) => outcome === 'queued')).toHaveLength(1);
  }, 60_000);
});

// Replicas too: a deployed model's replica takes its GPU from the same ledger, and a job never gets it.
describe('the GPU ledger across replicas and jobs', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;
  const work = mkdtempSync(join(tmpdir(), 'aicloud-ledger-'));

  beforeAll(async () => {
    // A small real model: the example fine-tune, trained for a few steps.
    trainTinyModel(work, 5);
    platform = await createTestPlatform('sqlite', null, { importRoots: { 'legal-rag': [work] } });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    alice = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: 'req_r' };
  }, 120_000);
  afterAll(async () => {
    if (!platform) return;
    await platform.endpoints.delete(alice, 'ledger-answerer').catch(() => {});
    for (const job of await platform.store.db.selectFrom('jobs').select('id').execute()) {
      await platform.runner.stop(job.id, 'cancelled').catch(() => {});
    }
    await platform.dispose();
  });

  it('gives a replica a GPU no job holds, and never gives that GPU to a job', async () => {
    await platform.models.register(alice, { name: 'ledger-answerer', source: `path:${join(work, 'model')}` });
    await platform.endpoints.deploy(alice, {
      model: 'ledger-answerer',
      version: 1,
      gpus: 1,
      gpuType: 'A100',
      minReplicas: 1,
      maxReplicas: 1,
    });
    const deadline = Date.now() + 60_000;
    let replica: { gpu_indexes: string; status: string } | undefined;
    while (Date.now() < deadline) {
      await platform.tick();
      replica = await platform.store.db
        .selectFrom('endpoint_replicas')
        .select(['gpu_indexes', 'status'])
        .where('status', 'in', ['starting', 'ready'])
        .executeTakeFirst();
      if (replica) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const held = JSON.parse(replica?.gpu_indexes ?? '[]') as number[];
    expect(held).toHaveLength(1);
    const { inventory, outcomes, jobs, given } = await fillWithJobs(
      platform,
      alice,
      'A100',
      'beside-replica',
    );
    expect(given).not.toContain(held[0]);
    expect(jobs.filter((job) => job.status === 'running')).toHaveLength(inventory - 1);
    expect(outcomes.filter((outcome) => outcome === 'queued')).toHaveLength(1);
  }, 120_000);
});
