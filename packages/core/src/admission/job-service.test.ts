import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Admission, Job, SubmitJobRequest } from '@aicloud/contracts';
import { cedarEngine, createCedarAuthorizer } from '@aicloud/policy';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AppError } from '../app-error.ts';
import type { Actor } from '../identity/principal.ts';
import type { Platform } from '../platform.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { moveJob } from '../workloads/job-state.ts';
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
const policiesDir = join(import.meta.dirname, '../../../../policies');

/** The refusal a promise ends with; fails the test when it resolves. */
async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** The admission a rejected submission carries in its error details. */
function admissionOf(error: AppError): Admission {
  return (error.details as { admission: Admission }).admission;
}

function codesOf(admission: Admission): string[] {
  return admission.reasons.map((reason) => reason.code);
}

describe.each(storeTargets(pgUrl))('job service on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let jobs: JobService;
  afterEach(async () => platform?.dispose());

  async function actorFor(user: string): Promise<Actor> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    return {
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    };
  }

  async function jobCount(): Promise<number> {
    const row = await platform.store.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  it('rejects 16 H100 instantly, naming gpu-max-per-product, and stores the job as rejected', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const started = performance.now();
    const error = await refusal(
      jobs.submit(alice, { product: 'fine-tune', gpus: 16, gpuType: 'H100', maxRuntime: '1h' }),
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('policy_denied');
    expect(error.message).toContain('gpu-max-per-product');
    const admission = admissionOf(error);
    expect(admission.outcome).toBe('rejected');
    expect(codesOf(admission)).toEqual(['gpu-max-per-product']);
    expect(admission.reasons[0]).toMatchObject({
      rule: 'gpu-max-per-product',
      asked: '16 × H100',
      limit: '8 GPUs on product fine-tune',
    });
    expect(admission.reasons[0]?.next).toContain('--gpus 8');
    const job = (error.details as { job: Job }).job;
    expect(job.status).toBe('rejected');
    expect((await jobs.get(alice, job.id)).status).toBe('rejected');
    const audit = await platform.audit.list(
      { action: 'job.submit', limit: 10 },
      { all: true, teams: [], actor: 'alice' },
    );
    expect(audit[0]).toMatchObject({ outcome: 'deny', resource: `job/${job.id}` });
    expect(audit[0]?.details.determining).toEqual(['gpu-max-per-product']);
    expect(audit[0]?.details.policySetDigest).toBe(platform.authorizer.digest);
  });

  it('names every rule a job breaks: 16 H100 for 8 h is over the product maximum and the budget', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const error = await refusal(jobs.submit(alice, { product: 'fine-tune', gpus: 16, gpuType: 'H100' }));
    // Not only a budget refusal, so the code is policy_denied.
    expect(error.code).toBe('policy_denied');
    // The product's hard limit leads; the budget, often only a consequence of asking too much, comes last.
    expect(codesOf(admissionOf(error))).toEqual(['gpu-max-per-product', 'budget-covers-estimate']);
    expect(error.message).toMatch(/^job rejected by gpu-max-per-product:/);
  });

  it('rejects an unclassified dataset outside the lake (the seed’s scratch) with dataset-classified', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const error = await refusal(
      jobs.submit(alice, {
        product: 'fine-tune',
        gpus: 1,
        maxRuntime: '1h',
        datasets: ['projects/legal-rag/datasets/scratch'],
      }),
    );
    expect(error.code).toBe('policy_denied');
    const codes = codesOf(admissionOf(error));
    expect(codes).toContain('dataset-classified');
    expect(codes).toContain('dataset-approved-encrypted-location');
    const classified = admissionOf(error).reasons.find((reason) => reason.code === 'dataset-classified');
    expect(classified?.asked).toBe('projects/legal-rag/datasets/scratch');
    expect(classified?.next).toContain('--classification');
  });

  it('rejects a classified, encrypted dataset that lies outside the approved lake', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    // Registered by a platform-admin, so its encryption and classification are attested facts.
    const dataset = await platform.datasets.register(await actorFor('admin'), {
      path: 'projects/legal-rag/datasets/outside',
      location: 's3://somebody-elses-bucket/legal-rag/outside',
      encrypted: true,
      classification: 'internal',
      tags: {},
    });
    expect(dataset.inApprovedLocation).toBe(false);
    const error = await refusal(
      jobs.submit(alice, {
        product: 'fine-tune',
        gpus: 1,
        maxRuntime: '1h',
        datasets: ['projects/legal-rag/datasets/outside'],
      }),
    );
    expect(error.code).toBe('policy_denied');
    expect(codesOf(admissionOf(error))).toEqual(['dataset-approved-encrypted-location']);
    expect(admissionOf(error).reasons[0]?.asked).toBe('projects/legal-rag/datasets/outside');
  });

  it('rejects an unregistered dataset with dataset-registered and admits the seed’s v2', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const error = await refusal(
      jobs.submit(alice, {
        product: 'fine-tune',
        gpus: 1,
        maxRuntime: '1h',
        datasets: ['projects/legal-rag/datasets/nope'],
      }),
    );
    expect(codesOf(admissionOf(error))).toEqual(['dataset-registered']);
    const ok = await jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 1,
      maxRuntime: '1h',
      datasets: ['projects/legal-rag/datasets/v2'],
    });
    expect(ok.admission.outcome).toBe('admitted');
    expect(ok.job?.datasets).toEqual(['projects/legal-rag/datasets/v2']);
  });

  it('rejects carol (search) reading legal-rag’s v2 with dataset-own-team', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const carol = await actorFor('carol');
    const error = await refusal(
      jobs.submit(carol, {
        product: 'fine-tune',
        gpus: 1,
        maxRuntime: '1h',
        datasets: ['projects/legal-rag/datasets/v2'],
      }),
    );
    expect(error.code).toBe('policy_denied');
    const admission = admissionOf(error);
    expect(codesOf(admission)).toEqual(['dataset-own-team']);
    expect(admission.reasons[0]?.limit).toBe('datasets of team search');
    expect((error.details as { job: Job }).job.team).toBe('search');
  });

  it('rejects once the budget cannot cover the estimate or is exhausted, with budget_exceeded', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const admin = await actorFor('admin');
    // 4 × H100 × $6.98 × 8 h = $223.36 of legal-rag's $300.
    const first = await jobs.submit(alice, { product: 'fine-tune', gpus: 4, gpuType: 'H100' });
    expect(first.admission.outcome).toBe('admitted');
    expect(first.admission.estimatedCost).toBeCloseTo(223.36, 6);
    expect(first.job?.reservedCost).toBeCloseTo(223.36, 6);
    expect(first.admission.warnings.map((hit) => hit.policyId)).toEqual(['spot-recommended']);
    const over = await refusal(jobs.submit(alice, { product: 'fine-tune', gpus: 4, gpuType: 'H100' }));
    expect(over.code).toBe('budget_exceeded');
    expect(codesOf(admissionOf(over))).toEqual(['budget-covers-estimate']);
    expect(admissionOf(over).reasons[0]?.limit).toContain('$76.64 left');
    expect(admissionOf(over).guardrails.budget).toMatchObject({ max: 300, committed: 223.36 });
    // A platform-admin lowers the budget below what is committed: the budget is exhausted.
    await platform.budgets.set(admin, 'legal-rag', { maxBudget: 200, softBudget: null });
    const exhausted = await refusal(jobs.submit(alice, { product: 'fine-tune', gpus: 1, maxRuntime: '1h' }));
    expect(exhausted.code).toBe('budget_exceeded');
    expect(codesOf(admissionOf(exhausted))).toEqual(['budget-exhausted', 'budget-covers-estimate']);
    // Cancelling the first job releases its reservation.
    await jobs.cancel(alice, first.job!.id);
    const budget = await platform.budgets.show(alice, 'legal-rag');
    expect(budget).toMatchObject({ committed: 0, remaining: 200 });
    const after = await jobs.submit(alice, { product: 'fine-tune', gpus: 1, maxRuntime: '1h' });
    expect(after.admission.outcome).toBe('admitted');
  });

  it.each([
    {
      variant: 'CPU batch-inference jobs ($0.27 each on spot for 1 h)',
      request: { product: 'batch-inference', maxRuntime: '1h' } satisfies SubmitJobRequest,
      each: 0.27,
    },
    {
      variant: '1-GPU fine-tune jobs ($3.67 each for 1 h; 8 admitted, 2 queued by quota)',
      request: {
        product: 'fine-tune',
        gpus: 1,
        gpuType: 'A100',
        maxRuntime: '1h',
      } satisfies SubmitJobRequest,
      each: 3.67,
    },
  ])(
    'admits exactly 10 of 50 concurrent submissions against a budget that fits 10: $variant',
    async ({ request, each }) => {
      platform = await createTestPlatform(target, pgUrl);
      jobs = servicesOf(platform).jobs;
      const alice = await actorFor('alice');
      const admin = await actorFor('admin');
      const maxBudget = Math.round(each * 10 * 100) / 100;
      await platform.budgets.set(admin, 'legal-rag', { maxBudget, softBudget: null });
      const maxMicros = Math.round(maxBudget * 1_000_000);
      let done = false;
      let highestCommitted = 0;
      const committed = async () => {
        const row = await platform.store.db
          .selectFrom('jobs')
          .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('reserved_micros'), eb.lit(0)).as('total'))
          .where('team', '=', 'legal-rag')
          .where('status', 'in', ['queued', 'admitted', 'running'])
          .executeTakeFirstOrThrow();
        return Number(row.total);
      };
      const watcher = (async () => {
        while (!done) {
          highestCommitted = Math.max(highestCommitted, await committed());
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, index) => jobs.submit(alice, { ...request, name: `burst-${index}` })),
      );
      done = true;
      await watcher;
      const accepted = results.filter((result) => result.status === 'fulfilled');
      const refused = results.filter((result) => result.status === 'rejected');
      expect(accepted).toHaveLength(10);
      expect(refused).toHaveLength(40);
      for (const result of accepted) {
        expect(['admitted', 'queued']).toContain(result.value.admission.outcome);
        expect(result.value.job?.reservedCost).toBeCloseTo(each, 6);
      }
      for (const result of refused) {
        const error = result.reason as AppError;
        expect(error).toBeInstanceOf(AppError);
        expect(error.code).toBe('budget_exceeded');
        expect(codesOf(admissionOf(error)).every((code) => code.startsWith('budget-'))).toBe(true);
      }
      const final = await committed();
      expect(final).toBe(maxMicros);
      expect(highestCommitted).toBeLessThanOrEqual(maxMicros);
      const budget = await platform.budgets.show(alice, 'legal-rag');
      expect(budget?.committed).toBeCloseTo(maxBudget, 6);
      expect(budget?.remaining).toBeCloseTo(0, 6);
      const statuses = await platform.store.db
        .selectFrom('jobs')
        .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
        .groupBy('status')
        .execute();
      const byStatus = Object.fromEntries(statuses.map((row) => [row.status, Number(row.count)]));
      expect((byStatus.admitted ?? 0) + (byStatus.queued ?? 0)).toBe(10);
      expect(byStatus.rejected).toBe(40);
      if (request.product === 'fine-tune') expect(byStatus).toMatchObject({ admitted: 8, queued: 2 });
      expect((await platform.audit.verify()).ok).toBe(true);
    },
  );

  it('previews a job in a dry run without writing a job, and audits the preview', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const before = await jobCount();
    const preview = await jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 2,
      gpuType: 'H100',
      maxRuntime: '2h',
      dryRun: true,
    });
    expect(preview.job).toBeNull();
    expect(preview.admission).toMatchObject({ outcome: 'admitted', approvalId: null });
    expect(preview.admission.estimatedCost).toBeCloseTo(2 * 6.98 * 2, 6);
    expect(preview.admission.guardrails).toMatchObject({
      maxRuntime: '2h',
      quota: { gpuType: 'H100', nominal: 8, used: 0, left: 8 },
      budget: { max: 300, committed: 0, left: 300 },
    });
    // A dry run of a job that would be denied answers, rather than throwing, and writes nothing either.
    const denied = await jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 16,
      gpuType: 'H100',
      dryRun: true,
    });
    expect(denied.job).toBeNull();
    expect(denied.admission.outcome).toBe('rejected');
    expect(codesOf(denied.admission)).toContain('gpu-max-per-product');
    const held = await jobs.submit(alice, { product: 'fine-tune', gpus: 6, dryRun: true });
    expect(held.admission).toMatchObject({ outcome: 'pending_approval', approvalId: null });
    expect(await jobCount()).toBe(before);
    expect(await platform.store.db.selectFrom('approvals').selectAll().execute()).toEqual([]);
    const previews = await platform.audit.list(
      { action: 'job.preview', limit: 10 },
      { all: true, teams: [], actor: 'alice' },
    );
    expect(previews.map((record) => record.outcome)).toEqual(['hold', 'deny', 'allow']);
  });

  it('lets the owner and the team’s manager cancel, refuses another member, hides the job from other teams', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const bob = await actorFor('bob');
    const admin = await actorFor('admin');
    const carolInSearch = await actorFor('carol');
    await platform.identity.addMember(admin, 'legal-rag', { user: 'carol', role: 'member' });
    const carolInLegal = await actorFor('carol');
    expect(carolInLegal.principal.teams.get('legal-rag')).toBe('member');
    const submit = async () =>
      (
        await jobs.submit(alice, {
          product: 'fine-tune',
          team: 'legal-rag',
          gpus: 1,
          maxRuntime: '1h',
        })
      ).job!;
    const mine = await submit();
    const cancelled = await jobs.cancel(alice, mine.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.reservedCost).toBe(0);
    expect(cancelled.reasons[0]).toMatchObject({ code: 'cancelled_by_user', message: 'cancelled by alice' });
    await expect(jobs.cancel(alice, mine.id)).rejects.toMatchObject({ code: 'conflict' });
    // A job that ran to its end cannot be cancelled either: the state table refuses, said as a conflict.
    const finished = await submit();
    expect(await moveJob(platform.store.db, finished.id, 'running', {}, 'admitted')).toBe(true);
    expect(await moveJob(platform.store.db, finished.id, 'succeeded', {}, 'running')).toBe(true);
    const ended = await refusal(jobs.cancel(alice, finished.id));
    expect([ended.code, ended.message]).toEqual(['conflict', `job ${finished.id} already ended (succeeded)`]);
    expect((await jobs.get(alice, finished.id)).status).toBe('succeeded');

    const other = await submit();
    const forbidden = await refusal(jobs.cancel(carolInLegal, other.id));
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.message).toContain('alice owns');
    expect((await jobs.get(alice, other.id)).status).toBe('admitted');
    const denials = await platform.audit.list(
      { action: 'job.cancel', limit: 10 },
      { all: true, teams: [], actor: 'carol' },
    );
    expect(denials.find((record) => record.actor === 'carol')).toMatchObject({ outcome: 'deny' });

    const byManager = await jobs.cancel(bob, other.id);
    expect(byManager.status).toBe('cancelled');
    expect(byManager.reasons[0]?.message).toBe('cancelled by bob');

    // Outside the team the job does not exist.
    const third = await submit();
    await expect(jobs.cancel(carolInSearch, third.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(jobs.get(carolInSearch, third.id)).rejects.toMatchObject({ code: 'not_found' });
    expect((await jobs.get(alice, third.id)).status).toBe('admitted');
  });

  it('lists jobs of the caller’s teams with status filters', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const alice = await actorFor('alice');
    const carol = await actorFor('carol');
    const a = await jobs.submit(alice, { product: 'fine-tune', gpus: 1, maxRuntime: '1h' });
    const c = await jobs.submit(carol, { product: 'fine-tune', gpus: 1, maxRuntime: '1h' });
    await refusal(jobs.submit(alice, { product: 'fine-tune', gpus: 16, gpuType: 'H100' }));
    expect((await jobs.list(alice, { limit: 100 })).map((job) => job.team)).toEqual([
      'legal-rag',
      'legal-rag',
    ]);
    expect((await jobs.list(alice, { limit: 100, status: 'admitted' })).map((job) => job.id)).toEqual([
      a.job!.id,
    ]);
    expect((await jobs.list(carol, { limit: 100 })).map((job) => job.id)).toEqual([c.job!.id]);
    await expect(jobs.list(carol, { limit: 100, team: 'legal-rag' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(jobs.get(carol, a.job!.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses to submit for a team the caller is not in, as if it did not exist', async () => {
    platform = await createTestPlatform(target, pgUrl);
    jobs = servicesOf(platform).jobs;
    const carol = await actorFor('carol');
    await expect(
      jobs.submit(carol, { product: 'fine-tune', team: 'legal-rag', gpus: 1 }),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(jobs.submit(carol, { product: 'no-such-product', gpus: 1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });

  describe('when the policy engine fails, the answer is deny (fail closed)', () => {
    const broken: [string, () => Authorizer][] = [
      [
        'the Cedar engine throws',
        () =>
          createCedarAuthorizer({
            policiesDir,
            engine: {
              ...cedarEngine,
              statefulIsAuthorized: () => {
                throw new Error('wasm trap: unreachable');
              },
            },
          }),
      ],
      [
        'the Cedar engine answers with a failure',
        () =>
          createCedarAuthorizer({
            policiesDir,
            engine: {
              ...cedarEngine,
              statefulIsAuthorized: () => ({
                type: 'failure',
                errors: [
                  { message: 'entity store is corrupt', help: null, code: null, url: null, severity: null },
                ],
                warnings: [],
              }),
            },
          }),
      ],
      [
        'the authorizer itself throws',
        () => {
          const real = createCedarAuthorizer({ policiesDir });
          return {
            get digest() {
              return real.digest;
            },
            policies: () => real.policies(),
            authorize: () => {
              throw new Error('authorizer crashed');
            },
          };
        },
      ],
    ];

    it.each(broken)('%s: submission is rejected with policy_engine_error', async (_name, make) => {
      platform = await createTestPlatform(target, pgUrl);
      jobs = servicesOf(platform).jobs;
      const alice = await actorFor('alice');
      const broken = createJobService({
        store: platform.store,
        audit: platform.audit,
        clock: platform.clock,
        catalog: platform.catalog,
        authorizer: make(),
      });
      const error = await refusal(broken.submit(alice, { product: 'fine-tune', gpus: 1, maxRuntime: '1h' }));
      expect(error.code).toBe('policy_denied');
      const admission = admissionOf(error);
      expect(admission.outcome).toBe('rejected');
      expect(codesOf(admission)).toContain('policy_engine_error');
      const job = (error.details as { job: Job }).job;
      expect((await jobs.get(alice, job.id)).status).toBe('rejected');
      const audit = await platform.audit.list(
        { action: 'job.submit', limit: 1 },
        { all: true, teams: [], actor: 'alice' },
      );
      expect(audit[0]).toMatchObject({ outcome: 'deny', resource: `job/${job.id}` });
      // Cancelling through a broken engine is refused too.
      const fine = await jobs.submit(alice, { product: 'fine-tune', gpus: 1, maxRuntime: '1h' });
      await expect(broken.cancel(alice, fine.job!.id)).rejects.toMatchObject({ code: 'forbidden' });
      expect((await jobs.get(alice, fine.job!.id)).status).toBe('admitted');
    });
  });
});
