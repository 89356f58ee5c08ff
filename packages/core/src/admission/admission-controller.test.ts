import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SubmitJobRequest } from '@aicloud/contracts';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import type { Platform } from '../platform.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { type ApprovalService, createApprovalService } from './approval-service.ts';
import { createJobService, type JobService } from './job-service.ts';

const pgUrl = inject('pgUrl');

/**
 * The job and approval services over a test platform's store, wired like the platform's own but without the
 * job runner's start kick: admitted jobs stay admitted and hold their quota and budget, so admission is seen
 * on its own (starting jobs is the runner's business, tested beside it).
 */
function servicesOf(platform: Platform): { jobs: JobService; approvals: ApprovalService } {
  const deps = {
    store: platform.store,
    audit: platform.audit,
    clock: platform.clock,
    catalog: platform.catalog,
  };
  const jobs = createJobService({ ...deps, authorizer: platform.authorizer });
  return { jobs, approvals: createApprovalService({ ...deps, jobs }) };
}

describe.each(storeTargets(pgUrl))('quota queue and admission controller on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let jobs: JobService;
  let now = Date.parse('2026-11-27T10:00:00Z');
  afterEach(async () => platform?.dispose());

  async function start() {
    now = Date.parse('2026-11-27T10:00:00Z');
    platform = await createTestPlatform(target, pgUrl, { clock: { now: () => now } });
    jobs = servicesOf(platform).jobs;
  }

  /** Submits one second after the previous submission: queue order is by submission time. */
  async function submit(actor: Actor, request: SubmitJobRequest) {
    now += 1000;
    return jobs.submit(actor, request);
  }

  async function actorFor(user: string): Promise<Actor> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    return {
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    };
  }

  it('queues a job over quota with its position and WaitingForQuota, and tick() admits it once quota frees', async () => {
    await start();
    const alice = await actorFor('alice');
    const ask = { product: 'fine-tune', gpus: 4, gpuType: 'A100', maxRuntime: '1h' };
    const first = await submit(alice, ask);
    const second = await submit(alice, ask);
    expect([first.admission.outcome, second.admission.outcome]).toEqual(['admitted', 'admitted']);
    expect(second.admission.guardrails.quota).toEqual({ gpuType: 'A100', nominal: 8, used: 4, left: 4 });

    const third = await submit(alice, ask);
    expect(third.admission.outcome).toBe('queued');
    expect(third.admission.queuePosition).toBe(1);
    expect(third.job).toMatchObject({ status: 'queued', queuePosition: 1, admittedAt: null });
    expect(third.job?.reservedCost).toBeCloseTo(4 * 3.67, 6);
    expect(third.admission.reasons).toHaveLength(1);
    expect(third.admission.reasons[0]).toMatchObject({
      code: 'WaitingForQuota',
      rule: 'quota',
      asked: '4 × A100',
      limit: 'nominal quota 8 × A100 for legal-rag',
    });
    expect(third.admission.reasons[0]?.message).toContain('used: gpu=8, limited: gpu=8');

    // Strict FIFO: a later, smaller job waits behind the head, even where it would fit on its own.
    const fourth = await submit(alice, { ...ask, gpus: 2 });
    expect(fourth.admission).toMatchObject({ outcome: 'queued', queuePosition: 2 });
    expect((await jobs.list(alice, { limit: 10, status: 'queued' })).map((job) => job.queuePosition)).toEqual(
      [2, 1],
    );

    expect(await platform.admission.tick()).toBe(0);
    now += 60_000;
    await jobs.cancel(alice, first.job!.id);
    expect(await platform.admission.tick()).toBe(1);
    const admitted = await jobs.get(alice, third.job!.id);
    expect(admitted).toMatchObject({
      status: 'admitted',
      queuePosition: null,
      reasons: [],
      admittedAt: new Date(now).toISOString(),
    });
    expect(admitted.reservedCost).toBeCloseTo(4 * 3.67, 6);
    // 4 + 4 held: the 2-GPU job is now the head of the queue, still waiting.
    expect(await jobs.get(alice, fourth.job!.id)).toMatchObject({
      status: 'queued',
      queuePosition: 1,
    });
    const records = await platform.audit.list(
      { action: 'job.admitted', limit: 10 },
      { all: true, teams: [], actor: 'system' },
    );
    expect(records.map((record) => record.resource)).toEqual([`job/${third.job!.id}`]);
    expect(records[0]).toMatchObject({ actor: 'system', outcome: 'allow', team: 'legal-rag' });

    await jobs.cancel(alice, second.job!.id);
    expect(await platform.admission.tick()).toBe(1);
    expect((await jobs.get(alice, fourth.job!.id)).status).toBe('admitted');
    expect(await platform.admission.tick()).toBe(0);
    expect((await platform.audit.verify()).ok).toBe(true);
  });

  it('a new submission queues behind jobs already waiting for the same quota', async () => {
    await start();
    const alice = await actorFor('alice');
    const big = await submit(alice, { product: 'fine-tune', gpus: 4, maxRuntime: '1h' });
    await submit(alice, { product: 'fine-tune', gpus: 4, maxRuntime: '1h' });
    const waiting = await submit(alice, { product: 'fine-tune', gpus: 3, maxRuntime: '1h' });
    expect(waiting.admission.outcome).toBe('queued');
    await jobs.cancel(alice, big.job!.id);
    // 4 GPUs are free now, but the 3-GPU job waits at the head; a 1-GPU newcomer may not overtake it.
    const newcomer = await submit(alice, { product: 'fine-tune', gpus: 1, maxRuntime: '1h' });
    expect(newcomer.admission).toMatchObject({ outcome: 'queued', queuePosition: 2 });
    expect(newcomer.admission.reasons[0]?.code).toBe('WaitingForQuota');
    expect(await platform.admission.tick()).toBe(2);
  });

  it('waits for capacity when the inventory is used up by another team, and admits when it frees', async () => {
    await start();
    const alice = await actorFor('alice');
    const carol = await actorFor('carol');
    const held = [
      await submit(alice, { product: 'fine-tune', gpus: 4, gpuType: 'H100', maxRuntime: '1h', spot: true }),
      await submit(alice, { product: 'fine-tune', gpus: 4, gpuType: 'H100', maxRuntime: '1h', spot: true }),
    ];
    expect(held.map((result) => result.admission.outcome)).toEqual(['admitted', 'admitted']);
    const waiting = await submit(carol, {
      product: 'fine-tune',
      gpus: 1,
      gpuType: 'H100',
      maxRuntime: '1h',
    });
    expect(waiting.admission.outcome).toBe('queued');
    expect(waiting.admission.reasons[0]).toMatchObject({ code: 'WaitingForCapacity', rule: 'capacity' });
    // Another GPU type is not affected.
    const a100 = await submit(carol, { product: 'fine-tune', gpus: 1, gpuType: 'A100', maxRuntime: '1h' });
    expect(a100.admission.outcome).toBe('admitted');
    expect(await platform.admission.tick()).toBe(0);
    await jobs.cancel(alice, held[0]!.job!.id);
    expect(await platform.admission.tick()).toBe(1);
    expect((await jobs.get(carol, waiting.job!.id)).status).toBe('admitted');
  });

  it('finds a movable job behind a long queue that is blocked by its quota', async () => {
    await start();
    const alice = await actorFor('alice');
    const carol = await actorFor('carol');
    await platform.store.db
      .updateTable('quotas')
      .set({ nominal: 2 })
      .where('team', '=', 'legal-rag')
      .where('gpu_type', '=', 'A100')
      .execute();
    const one = { product: 'fine-tune', gpus: 1, gpuType: 'A100', maxRuntime: '10m', spot: true };
    for (let index = 0; index < 2; index += 1) {
      expect((await submit(alice, one)).admission.outcome).toBe('admitted');
    }
    // More than a page of legal-rag jobs waits for legal-rag's quota, while A100s stay free.
    for (let index = 0; index < 70; index += 1) {
      expect((await submit(alice, one)).admission.outcome).toBe('queued');
    }
    const carols = [];
    for (let index = 0; index < 4; index += 1) carols.push(await submit(carol, one));
    expect(carols.map((result) => result.admission.outcome)).toEqual([
      'admitted',
      'admitted',
      'admitted',
      'admitted',
    ]);
    const waiting = await submit(carol, one);
    expect(waiting.admission).toMatchObject({ outcome: 'queued', queuePosition: 1 });
    expect(await platform.admission.tick()).toBe(0);
    await jobs.cancel(carol, carols[0]!.job!.id);
    expect(await platform.admission.tick()).toBe(1);
    expect((await jobs.get(carol, waiting.job!.id)).status).toBe('admitted');
    const queued = await jobs.list(alice, { limit: 1000, status: 'queued' });
    expect(queued).toHaveLength(70);
  });

  it('admits queued jobs of several teams in one tick, each within its own quota', async () => {
    await start();
    const alice = await actorFor('alice');
    const carol = await actorFor('carol');
    const aliceJobs = [];
    for (let index = 0; index < 3; index += 1) {
      aliceJobs.push(
        await submit(alice, { product: 'fine-tune', gpus: 4, gpuType: 'A100', maxRuntime: '1h' }),
      );
    }
    const carolJobs = [];
    for (let index = 0; index < 2; index += 1) {
      carolJobs.push(
        await submit(carol, { product: 'training', gpus: 3, gpuType: 'H100', maxRuntime: '1h' }),
      );
    }
    expect(aliceJobs.map((job) => job.admission.outcome)).toEqual(['admitted', 'admitted', 'queued']);
    expect(carolJobs.map((job) => job.admission.outcome)).toEqual(['admitted', 'queued']);
    await jobs.cancel(alice, aliceJobs[0]!.job!.id);
    await jobs.cancel(carol, carolJobs[0]!.job!.id);
    expect(await platform.admission.tick()).toBe(2);
    expect((await jobs.get(alice, aliceJobs[2]!.job!.id)).status).toBe('admitted');
    expect((await jobs.get(carol, carolJobs[1]!.job!.id)).status).toBe('admitted');
  });
});
