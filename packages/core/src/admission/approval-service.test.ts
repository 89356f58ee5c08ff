import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Admission } from '@aicloud/contracts';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AppError } from '../app-error.ts';
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
const HOUR = 3600_000;

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe.each(storeTargets(pgUrl))('approvals and policy exceptions on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let jobs: JobService;
  let approvals: ApprovalService;
  let now = Date.parse('2026-11-27T10:00:00Z');
  afterEach(async () => platform?.dispose());

  async function start() {
    now = Date.parse('2026-11-27T10:00:00Z');
    platform = await createTestPlatform(target, pgUrl, { clock: { now: () => now } });
    ({ jobs, approvals } = servicesOf(platform));
  }

  async function actorFor(user: string): Promise<Actor> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    return {
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    };
  }

  it('holds 6 GPUs for bob’s approval; alice cannot approve her own; bob approves and it is admitted', async () => {
    await start();
    const alice = await actorFor('alice');
    const bob = await actorFor('bob');
    const carol = await actorFor('carol');
    const held = await jobs.submit(alice, { product: 'fine-tune', gpus: 6, maxRuntime: '4h' });
    expect(held.admission.outcome).toBe('pending_approval');
    expect(held.job?.status).toBe('pending_approval');
    expect(held.job?.reservedCost).toBe(0);
    const approvalId = held.admission.approvalId!;
    expect(approvalId).toMatch(/^apr/);
    expect(held.admission.reasons).toHaveLength(1);
    expect(held.admission.reasons[0]).toMatchObject({
      code: 'gpu-approval-above-4',
      rule: 'gpu-approval-above-4',
      asked: '6 × A100',
      next: `bob approves it: aicloud approvals approve ${approvalId}`,
    });

    const inbox = await approvals.list(bob, 'pending');
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({
      id: approvalId,
      jobId: held.job!.id,
      team: 'legal-rag',
      requestedBy: 'alice',
      approvers: ['bob'],
      rules: ['gpu-approval-above-4'],
      status: 'pending',
      expiresAt: new Date(now + 24 * HOUR).toISOString(),
    });
    expect(await approvals.list(carol)).toEqual([]);
    await expect(approvals.approve(carol, approvalId)).rejects.toMatchObject({ code: 'not_found' });

    const own = await refusal(approvals.approve(alice, approvalId));
    expect(own.code).toBe('forbidden');
    expect(own.message).toContain('bob');
    expect((await jobs.get(alice, held.job!.id)).status).toBe('pending_approval');

    now += HOUR;
    const { approval, admission } = await approvals.approve(bob, approvalId, 'go ahead');
    expect(approval).toMatchObject({ status: 'approved', decidedBy: 'bob', reason: 'go ahead' });
    expect(admission.outcome).toBe('admitted');
    const job = await jobs.get(alice, held.job!.id);
    expect(job).toMatchObject({ status: 'admitted', admittedAt: new Date(now).toISOString() });
    expect(job.reservedCost).toBeCloseTo(6 * 3.67 * 4, 6);
    await expect(approvals.approve(bob, approvalId)).rejects.toMatchObject({ code: 'conflict' });
    const readmit = await platform.audit.list(
      { action: 'job.readmit', limit: 1 },
      { all: true, teams: [], actor: 'bob' },
    );
    expect(readmit[0]).toMatchObject({ actor: 'bob', outcome: 'warn', resource: `job/${job.id}` });
  });

  it('refuses a manager approving their own request, and lets a platform-admin decide', async () => {
    await start();
    const bob = await actorFor('bob');
    const admin = await actorFor('admin');
    const held = await jobs.submit(bob, { product: 'fine-tune', gpus: 6, maxRuntime: '1h' });
    expect(held.admission.outcome).toBe('pending_approval');
    const own = await refusal(approvals.approve(bob, held.admission.approvalId!));
    expect(own.code).toBe('forbidden');
    expect(own.message).toContain('your own request');
    const decided = await approvals.approve(admin, held.admission.approvalId!);
    expect(decided.admission.outcome).toBe('admitted');
  });

  it('queues an approved job that does not fit the quota, and rejects a denied one', async () => {
    await start();
    const alice = await actorFor('alice');
    const bob = await actorFor('bob');
    const running = await jobs.submit(alice, { product: 'fine-tune', gpus: 4, maxRuntime: '1h' });
    expect(running.admission.outcome).toBe('admitted');
    const held = await jobs.submit(alice, { product: 'fine-tune', gpus: 6, maxRuntime: '1h' });
    const approved = await approvals.approve(bob, held.admission.approvalId!);
    expect(approved.admission.outcome).toBe('queued');
    expect(approved.admission.queuePosition).toBe(1);
    expect(approved.admission.reasons[0]?.code).toBe('WaitingForQuota');
    expect(await jobs.get(alice, held.job!.id)).toMatchObject({
      status: 'queued',
      queuePosition: 1,
    });

    const other = await jobs.submit(alice, { product: 'fine-tune', gpus: 5, maxRuntime: '1h' });
    const denied = await approvals.deny(bob, other.admission.approvalId!, 'too big for today');
    expect(denied).toMatchObject({ status: 'denied', decidedBy: 'bob', reason: 'too big for today' });
    const job = await jobs.get(alice, other.job!.id);
    expect(job.status).toBe('rejected');
    expect(job.reasons[0]).toMatchObject({
      code: 'approval_denied',
      message: 'denied by bob: too big for today',
    });
  });

  it('re-admits by job id, once: a second re-admission and a job without an approved approval are conflicts', async () => {
    await start();
    const alice = await actorFor('alice');
    const held = await jobs.submit(alice, { product: 'fine-tune', gpus: 6, maxRuntime: '1h' });
    const jobId = held.job!.id;
    // Not approved yet: nothing to re-admit with.
    await expect(jobs.readmitApproved(jobId, 'bob')).rejects.toMatchObject({ code: 'conflict' });
    expect((await jobs.get(alice, jobId)).status).toBe('pending_approval');
    // The approval is recorded but re-admission never ran (the server stopped in between).
    await platform.store.db
      .updateTable('approvals')
      .set({ status: 'approved', decided_by: 'bob', decided_at: new Date(now).toISOString() })
      .where('id', '=', held.admission.approvalId!)
      .execute();
    // The periodic sweep finds the job still held under an approved approval and re-admits it.
    await approvals.expire();
    expect((await jobs.get(alice, jobId)).status).toBe('admitted');
    const decision = await jobs.decision(alice, jobId);
    expect(decision.approvedBy).toBe('bob');
    await expect(jobs.readmitApproved(jobId, 'bob')).rejects.toMatchObject({ code: 'conflict' });
    await expect(jobs.readmitApproved('job_missing', 'bob')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('expires approvals after 24 h and rejects their jobs', async () => {
    await start();
    const alice = await actorFor('alice');
    const bob = await actorFor('bob');
    const held = await jobs.submit(alice, { product: 'fine-tune', gpus: 6, maxRuntime: '1h' });
    const approvalId = held.admission.approvalId!;
    now += 23 * HOUR;
    expect(await approvals.expire()).toBe(0);
    expect((await jobs.get(alice, held.job!.id)).status).toBe('pending_approval');
    now += 2 * HOUR;
    const late = await refusal(approvals.approve(bob, approvalId));
    expect(late.code).toBe('conflict');
    expect(late.message).toContain('expired');
    expect(await approvals.expire()).toBe(1);
    expect(await approvals.expire()).toBe(0);
    const job = await jobs.get(alice, held.job!.id);
    expect(job).toMatchObject({ status: 'rejected', endedAt: new Date(now).toISOString() });
    expect(job.reasons[0]?.code).toBe('approval_expired');
    expect((await approvals.list(bob))[0]).toMatchObject({ id: approvalId, status: 'expired' });
    await expect(approvals.approve(bob, approvalId)).rejects.toMatchObject({ code: 'conflict' });
    expect((await platform.audit.verify()).ok).toBe(true);
  });

  it('cancelling a held job closes its approval', async () => {
    await start();
    const alice = await actorFor('alice');
    const bob = await actorFor('bob');
    const held = await jobs.submit(alice, { product: 'fine-tune', gpus: 6, maxRuntime: '1h' });
    expect((await jobs.cancel(alice, held.job!.id)).status).toBe('cancelled');
    expect((await approvals.list(bob))[0]).toMatchObject({
      status: 'denied',
      reason: 'job cancelled',
    });
    await expect(approvals.approve(bob, held.admission.approvalId!)).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('lets a platform-admin grant a time-boxed exception that lifts gpu-max-per-product for one team', async () => {
    await start();
    const alice = await actorFor('alice');
    const bob = await actorFor('bob');
    const carol = await actorFor('carol');
    const admin = await actorFor('admin');
    const ask = { product: 'fine-tune', gpus: 16, gpuType: 'H100', maxRuntime: '1h' };
    const before = await refusal(jobs.submit(alice, ask));
    expect((before.details as { admission: Admission }).admission.reasons.map((r) => r.code)).toEqual([
      'gpu-max-per-product',
    ]);
    const request = {
      policyId: 'gpu-max-per-product',
      team: 'legal-rag',
      description: 'pre-training run for the Q4 model',
      expiresAt: new Date(now + 48 * HOUR).toISOString(),
    };
    await expect(approvals.grantException(bob, request)).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(
      approvals.grantException(admin, { ...request, expiresAt: new Date(now - HOUR).toISOString() }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
    const exception = await approvals.grantException(admin, request);
    expect(exception).toMatchObject({
      policyId: 'gpu-max-per-product',
      team: 'legal-rag',
      grantedBy: 'admin',
    });
    expect((await approvals.listExceptions(alice)).map((row) => row.id)).toEqual([exception.id]);
    expect(await approvals.listExceptions(carol)).toEqual([]);

    // No longer denied by the rule: held for a manager instead (more than 4 GPUs).
    const held = await jobs.submit(alice, ask);
    expect(held.admission.outcome).toBe('pending_approval');
    expect(held.admission.reasons.map((reason) => reason.code)).toEqual(['gpu-approval-above-4']);
    const approved = await approvals.approve(bob, held.admission.approvalId!);
    // 16 H100 is above legal-rag's nominal quota of 8: it waits.
    expect(approved.admission.outcome).toBe('queued');

    // The exception is for legal-rag only.
    const elsewhere = await refusal(jobs.submit(carol, ask));
    expect(elsewhere.code).toBe('policy_denied');

    // And it is time-boxed.
    now += 49 * HOUR;
    const after = await refusal(jobs.submit(alice, ask));
    expect((after.details as { admission: Admission }).admission.reasons.map((r) => r.code)).toEqual([
      'gpu-max-per-product',
    ]);
  });
});
