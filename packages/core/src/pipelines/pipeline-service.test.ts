import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pipeline } from '@aicloud/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { hashTree } from '../lineage/content-hash.ts';
import { createTestPlatform } from '../testing/test-platform.ts';
import { moveJob } from '../workloads/job-state.ts';

type TestPlatform = Awaited<ReturnType<typeof createTestPlatform>>;

async function actorOf(platform: TestPlatform, user: string): Promise<Actor> {
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
  return { principal: await platform.identity.authenticate(credentials[user].token), requestId: null };
}

async function until(platform: TestPlatform, actor: Actor, id: string, done: (p: Pipeline) => boolean) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await platform.tick();
    await platform.runner.idle();
    const pipeline = await platform.pipelines.get(actor, id);
    if (done(pipeline)) return pipeline;
    if (Date.now() > deadline) throw new Error(`timed out; last ${JSON.stringify(pipeline)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const ended = (p: Pipeline) => p.status !== 'running';

/** Waits until the runner has started the job's process (the executor's id is recorded once it has). */
async function running(platform: TestPlatform, jobId: string) {
  const deadline = Date.now() + 60_000;
  const started = async () =>
    (
      await platform.store.db
        .selectFrom('jobs')
        .select(['status', 'external_id'])
        .where('id', '=', jobId)
        .executeTakeFirstOrThrow()
    ).external_id !== null;
  while (!(await started())) {
    if (Date.now() > deadline) throw new Error(`job ${jobId} never ran`);
    await platform.tick();
    await platform.runner.idle();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Ends a running job as the runner records an end the platform caused (a failed node, an operator's scancel),
 * then stops its process, whose own end then changes nothing: the job already ended.
 */
async function platformEnd(
  platform: TestPlatform,
  jobId: string,
  status: 'lost' | 'cancelled',
  code: string,
) {
  const reasons = [{ code, message: code, asked: null, limit: null, rule: null, next: null }];
  const moved = await moveJob(
    platform.store.db,
    jobId,
    status,
    { reasons: JSON.stringify(reasons), ended_at: new Date().toISOString() },
    'running',
  );
  expect(moved).toBe(true);
  await platform.runner.stop(jobId, 'cancelled');
}

describe('pipelines', () => {
  const platforms: TestPlatform[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const platform of platforms.splice(0)) await platform.dispose();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function open(dataDir?: string) {
    const platform = await createTestPlatform('sqlite', null, {
      pipelineRetryBaseMs: 200,
      ...(dataDir ? { dataDir } : {}),
    });
    return platform;
  }

  it('retries a step that fails once, passes its output by reference, and a rerun hits the cache', async () => {
    const platform = await open();
    platforms.push(platform);
    const alice = await actorOf(platform, 'alice');
    const steps = [
      {
        name: 'prepare',
        product: 'batch-inference',
        command: 'if [ "$AICLOUD_ATTEMPT" = 1 ]; then exit 7; fi; echo rows > "$AICLOUD_OUTPUT_DIR/data.txt"',
        retries: 2,
        cache: true,
      },
      {
        name: 'train',
        product: 'batch-inference',
        dependsOn: ['prepare'],
        command: 'cat "$AICLOUD_INPUT_PREPARE/data.txt" > "$AICLOUD_OUTPUT_DIR/model.txt"',
        cache: true,
        params: { lr: 0.1 },
      },
    ];
    const first = await platform.pipelines.create(alice, { name: 'ft', steps });
    const done = await until(platform, alice, first.id, ended);
    expect(done.status, JSON.stringify(done.reason)).toBe('succeeded');
    const prepare = done.steps.find((s) => s.name === 'prepare')!;
    expect(prepare.attempt).toBe(2);
    expect(prepare.jobIds).toHaveLength(2);
    expect(prepare.outputHash).toMatch(/^[0-9a-f]{64}$/);
    const train = done.steps.find((s) => s.name === 'train')!;
    expect(readFileSync(join(platform.dataDir, 'jobs', train.jobId!, 'output/model.txt'), 'utf8')).toBe(
      'rows\n',
    );

    const second = await platform.pipelines.create(alice, { name: 'ft', steps });
    const rerun = await until(platform, alice, second.id, ended);
    expect(rerun.status).toBe('succeeded');
    for (const step of rerun.steps) {
      expect(step.status).toBe('cached');
      expect(step.reason).toContain(
        `cached: same code, inputs and parameters as step ${step.name} of pipeline ${first.id}`,
      );
    }
    // Another team sees nothing of it.
    const carol = await actorOf(platform, 'carol');
    await expect(platform.pipelines.get(carol, first.id)).rejects.toThrow(/not found/);
    expect(await platform.pipelines.list(carol)).toEqual([]);
  }, 120_000);

  it('a step out of retries fails the pipeline; a policy refusal fails it with the step reason', async () => {
    const platform = await open();
    platforms.push(platform);
    const alice = await actorOf(platform, 'alice');
    const failing = await platform.pipelines.create(alice, {
      name: 'bad',
      steps: [{ name: 'boom', product: 'batch-inference', command: 'exit 3', retries: 1 }],
    });
    const failed = await until(platform, alice, failing.id, ended);
    expect(failed.status).toBe('failed');
    expect(failed.reason).toMatch(/step boom failed: job .* failed \(exit 3\); out of retries \(1\)/);
    expect(failed.steps[0]!.jobIds).toHaveLength(2);

    // A step fails while its sibling still runs: the pipeline fails at once, and the sibling's end is still
    // recorded (it was left running forever), with no step started after the failure.
    const mixed = await platform.pipelines.create(alice, {
      name: 'mixed',
      steps: [
        { name: 'make', product: 'batch-inference', command: 'true' },
        { name: 'slow', product: 'batch-inference', command: 'sleep 2', dependsOn: ['make'] },
        { name: 'boom', product: 'batch-inference', command: 'exit 3', dependsOn: ['make'] },
        { name: 'later', product: 'batch-inference', command: 'true', dependsOn: ['slow'] },
        // Fails after the pipeline did, with retries left: not retried, and says why.
        {
          name: 'flaky',
          product: 'batch-inference',
          command: 'sleep 2; exit 4',
          dependsOn: ['make'],
          retries: 2,
        },
      ],
    });
    const failedFirst = await until(platform, alice, mixed.id, ended);
    expect(failedFirst.status).toBe('failed');
    expect(failedFirst.reason).toMatch(/^step boom failed/);
    expect(failedFirst.steps.find((step) => step.name === 'slow')!.status).toBe('running');
    const settled = await until(
      platform,
      alice,
      mixed.id,
      (pipeline) => !pipeline.steps.some((step) => step.status === 'running'),
    );
    expect(Object.fromEntries(settled.steps.map((step) => [step.name, step.status]))).toEqual({
      make: 'succeeded',
      slow: 'succeeded',
      boom: 'failed',
      later: 'pending',
      flaky: 'failed',
    });
    const flaky = settled.steps.find((step) => step.name === 'flaky')!;
    expect(flaky.jobIds).toHaveLength(1);
    expect(flaky.reason).toMatch(/exit 4\); not retried: the pipeline had already failed$/);
    expect(settled.status).toBe('failed');
    expect(settled.reason).toBe(failedFirst.reason);

    const refused = await platform.pipelines.create(alice, {
      name: 'refused',
      steps: [
        {
          name: 'leak',
          product: 'batch-inference',
          command: 'true',
          datasets: ['projects/nowhere/datasets/unregistered'],
        },
        { name: 'after', product: 'batch-inference', command: 'true', dependsOn: ['leak'] },
      ],
    });
    expect(refused.status).toBe('failed');
    expect(refused.reason).toMatch(/^step leak was refused: job rejected by dataset-registered: /);
    expect(refused.steps[1]!.status).toBe('pending');
    expect(refused.steps[1]!.jobIds).toHaveLength(0);
  }, 120_000);

  it('a step whose registration request is bad or a link fails with why; nothing is registered', async () => {
    const platform = await open();
    platforms.push(platform);
    const alice = await actorOf(platform, 'alice');
    const bad = await platform.pipelines.create(alice, {
      name: 'badreg',
      steps: [
        {
          name: 'reg',
          product: 'batch-inference',
          command: `echo w > "$AICLOUD_OUTPUT_DIR/w"; echo '{"name":"Not A Name!","metrics":{"acc":1}}' > "$AICLOUD_OUTPUT_DIR/aicloud-register.json"`,
        },
      ],
    });
    const failed = await until(platform, alice, bad.id, ended);
    expect(failed.status).toBe('failed');
    expect(failed.reason).toMatch(
      /^step reg failed: registering its output .* aicloud-register\.json: name /,
    );
    const linked = await platform.pipelines.create(alice, {
      name: 'linkreg',
      steps: [
        {
          name: 'reg',
          product: 'batch-inference',
          command:
            'echo w > "$AICLOUD_OUTPUT_DIR/w"; ln -s /etc/hostname "$AICLOUD_OUTPUT_DIR/aicloud-register.json"',
        },
      ],
    });
    const refused = await until(platform, alice, linked.id, ended);
    expect(refused.status).toBe('failed');
    expect(refused.reason).toMatch(
      /aicloud-register\.json cannot be read \(ELOOP\); write a plain file, not a link/,
    );
    expect(await platform.models.list(alice)).toEqual([]);
  }, 120_000);

  it('retries a step whose job the platform lost or stopped, with backoff, counting attempts; runs land in the pipeline experiment', async () => {
    const platform = await createTestPlatform('sqlite', null, { pipelineRetryBaseMs: 1000 });
    platforms.push(platform);
    const alice = await actorOf(platform, 'alice');
    const created = await platform.pipelines.create(alice, {
      name: 'preempt',
      experiment: 'preempt-exp',
      steps: [
        {
          name: 'train',
          product: 'batch-inference',
          command: 'if [ "$AICLOUD_ATTEMPT" -lt 3 ]; then sleep 60; fi; echo ok > "$AICLOUD_OUTPUT_DIR/ok"',
          retries: 2,
        },
      ],
    });
    expect(created.experiment).toBe('preempt-exp');
    const ends = [
      { status: 'lost', code: 'node_fail', why: 'lost (node_fail)', delay: 1000 },
      { status: 'cancelled', code: 'cancelled', why: 'cancelled', delay: 2000 },
    ] as const;
    for (const [index, end] of ends.entries()) {
      const step = (await platform.pipelines.get(alice, created.id)).steps[0]!;
      expect(step.attempt).toBe(index + 1);
      await running(platform, step.jobId!);
      await platformEnd(platform, step.jobId!, end.status, end.code);
      const before = Date.now();
      await platform.pipelines.tick();
      const after = Date.now();
      const retrying = (await platform.pipelines.get(alice, created.id)).steps[0]!;
      expect(retrying.status).toBe('retrying');
      expect(retrying.reason).toContain(`job ${step.jobId} ${end.why}; retry ${index + 1} of 2 at `);
      // Backoff: the base delay, doubled per further attempt.
      const at = Date.parse(retrying.nextAttemptAt!);
      expect(at - before).toBeGreaterThanOrEqual(end.delay);
      expect(at - after).toBeLessThanOrEqual(end.delay);
      await platform.pipelines.tick();
      expect((await platform.pipelines.get(alice, created.id)).steps[0]!.status).toBe('retrying');
      const next = await until(platform, alice, created.id, (p) => p.steps[0]!.attempt === index + 2);
      const nextJob = await platform.jobs.get(alice, next.steps[0]!.jobId!);
      expect(Date.parse(nextJob.createdAt)).toBeGreaterThanOrEqual(at);
    }
    const done = await until(platform, alice, created.id, ended);
    expect(done.status, JSON.stringify(done.reason)).toBe('succeeded');
    expect(done.steps[0]!.attempt).toBe(3);
    expect(done.steps[0]!.jobIds).toHaveLength(3);
    // Every attempt's job is a run of the pipeline's one experiment, in the team.
    const runs = await platform.store.db
      .selectFrom('tracking_runs')
      .innerJoin('tracking_experiments', 'tracking_experiments.id', 'tracking_runs.experiment_id')
      .select(['tracking_runs.job_id', 'tracking_experiments.name', 'tracking_experiments.team'])
      .where('tracking_runs.job_id', 'in', done.steps[0]!.jobIds)
      .execute();
    expect(runs.map((run) => run.job_id).sort()).toEqual([...done.steps[0]!.jobIds].sort());
    expect(new Set(runs.map((run) => `${run.team}/${run.name}`))).toEqual(new Set(['legal-rag/preempt-exp']));
    expect((await platform.jobs.get(alice, done.steps[0]!.jobId!)).experiment).toBe('preempt-exp');
  }, 120_000);

  it('does not retry a step whose job a user cancelled, nor a cancelled pipeline', async () => {
    const platform = await createTestPlatform('sqlite', null, { pipelineRetryBaseMs: 100 });
    platforms.push(platform);
    const alice = await actorOf(platform, 'alice');
    const step = { name: 'wait', product: 'batch-inference', command: 'sleep 60', retries: 2 };
    const byJob = await platform.pipelines.create(alice, { name: 'jobcancel', steps: [step] });
    expect(byJob.experiment).toBe('jobcancel');
    await running(platform, byJob.steps[0]!.jobId!);
    await platform.jobs.cancel(alice, byJob.steps[0]!.jobId!);
    const failed = await until(platform, alice, byJob.id, ended);
    expect(failed.status).toBe('failed');
    expect(failed.reason).toBe(
      `step wait failed: job ${byJob.steps[0]!.jobId} cancelled (cancelled_by_user)`,
    );
    expect(failed.steps[0]!.jobIds).toHaveLength(1);

    const whole = await platform.pipelines.create(alice, { name: 'plcancel', steps: [step] });
    const jobId = whole.steps[0]!.jobId!;
    await running(platform, jobId);
    const cancelled = await platform.pipelines.cancel(alice, whole.id);
    expect(cancelled.status).toBe('cancelled');
    const deadline = Date.now() + 60_000;
    while ((await platform.jobs.get(alice, jobId)).status === 'running') {
      if (Date.now() > deadline) throw new Error('the step job was not stopped');
      await platform.runner.idle();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let pass = 0; pass < 3; pass += 1) {
      await platform.tick();
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const after = await platform.pipelines.get(alice, whole.id);
    expect(after.status).toBe('cancelled');
    expect(after.steps[0]).toMatchObject({ status: 'cancelled', attempt: 1, jobIds: [jobId] });
    expect((await platform.jobs.get(alice, jobId)).status).toBe('cancelled');
  }, 120_000);

  it('refuses a cycle or an unknown dependency with a clear error', async () => {
    const platform = await open();
    platforms.push(platform);
    const alice = await actorOf(platform, 'alice');
    await expect(
      platform.pipelines.create(alice, {
        name: 'cyc',
        steps: [
          { name: 'a', product: 'batch-inference', command: 'true', dependsOn: ['b'] },
          { name: 'b', product: 'batch-inference', command: 'true', dependsOn: ['a'] },
        ],
      }),
    ).rejects.toThrow(/cycle/);
    await expect(
      platform.pipelines.create(alice, {
        name: 'x',
        steps: [{ name: 'a', product: 'batch-inference', command: 'true', dependsOn: ['zzz'] }],
      }),
    ).rejects.toThrow(/unknown step zzz/);
  });

  it('resumes after the server is closed and reopened on the same data, without rerunning finished steps', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-pipeline-'));
    dirs.push(dataDir);
    const first = await open(dataDir);
    const alice = await actorOf(first, 'alice');
    const created = await first.pipelines.create(alice, {
      name: 'resume',
      steps: [
        { name: 'one', product: 'batch-inference', command: 'echo one >> "$AICLOUD_OUTPUT_DIR/ran"' },
        {
          name: 'two',
          product: 'batch-inference',
          dependsOn: ['one'],
          command: 'cat "$AICLOUD_INPUT_ONE/ran" > "$AICLOUD_OUTPUT_DIR/ran"',
        },
      ],
    });
    const oneJob = created.steps[0]!.jobId!;
    // Let step one finish, then stop the server before the controller starts step two.
    for (;;) {
      await first.runner.idle();
      const job = await first.jobs.get(alice, oneJob);
      if (!['admitted', 'queued', 'running'].includes(job.status)) break;
      await first.runner.tick();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await first.pipelines.get(alice, created.id)).steps[1]!.status).toBe('pending');
    await first.close();

    const second = await open(dataDir);
    platforms.push(second);
    const aliceAgain = await actorOf(second, 'alice');
    const done = await until(second, aliceAgain, created.id, ended);
    expect(done.status, JSON.stringify(done.reason)).toBe('succeeded');
    expect(done.steps[0]!.jobIds).toEqual([oneJob]);
    expect(readFileSync(join(dataDir, 'jobs', done.steps[1]!.jobId!, 'output/ran'), 'utf8')).toBe('one\n');
  }, 120_000);

  it('runs the example fine-tune pipeline (Python SDK) end to end on the demo dataset', async () => {
    const platform = await open();
    platforms.push(platform);
    const alice = await actorOf(platform, 'alice');
    const example = join(import.meta.dirname, '../../../../examples/pipelines/fine-tune-pipeline.py');
    const spec = JSON.parse(execFileSync('python3', [example, '--aicloud-spec'], { encoding: 'utf8' }));
    const created = await platform.pipelines.create(alice, spec);
    const done = await until(platform, alice, created.id, ended);
    expect(done.status, JSON.stringify(done.reason)).toBe('succeeded');
    expect(done.steps.map((s) => s.name)).toEqual(['prepare', 'train', 'evaluate', 'register']);
    const register = done.steps.find((s) => s.name === 'register')!;
    const out = join(platform.dataDir, 'jobs', register.jobId!, 'output');
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.coverage).toBe(1);
    expect(metrics.vocab).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(out, 'lineage.json'), 'utf8'))).toEqual({
      dataset: 'projects/legal-rag/datasets/v2',
      pipeline: created.id,
    });
    // The last step registered its output WITH the evaluation metrics, and the version's lineage reaches the
    // dataset's content hash through the pipeline's steps.
    const version = await platform.models.version(alice, 'legal-unigram', 1);
    expect(version.source).toBe(`job:${register.jobId}`);
    expect(version.metrics).toMatchObject({ coverage: 1, vocab: metrics.vocab });
    const graph = await platform.lineage.graph(alice, 'model', 'legal-unigram@1', { direction: 'up' });
    const dataset = graph.nodes.find((node) => node.id === 'dataset:projects/legal-rag/datasets/v2');
    expect(dataset?.contentHash).toBe(hashTree(join(platform.dataDir, 'lake/legal-rag/v2')));
    expect(graph.nodes.filter((node) => node.kind === 'step_job').map((node) => node.details.step)).toEqual(
      expect.arrayContaining(['prepare', 'train', 'evaluate', 'register']),
    );
  }, 120_000);
});
