import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AppError } from '../app-error.ts';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { recordJobRuns } from './job-run-recorder.ts';
import { createTrackingService, type TrackingService } from './tracking-service.ts';

const pgUrl = inject('pgUrl');

async function refusal(promise: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError)
      return { code: error.details?.mlflowCode ?? error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe.each(storeTargets(pgUrl))('tracking service on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let tracking: TrackingService;
  let alice: Actor;
  let carol: Actor;

  beforeAll(async () => {
    platform = await createTestPlatform(target, pgUrl);
    tracking = createTrackingService({
      store: platform.store,
      audit: platform.audit,
      clock: platform.clock,
      dataDir: platform.dataDir,
    });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    const actor = async (user: string) => ({
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: 'req_test',
    });
    alice = await actor('alice');
    carol = await actor('carol');
  });
  afterAll(async () => platform?.dispose());

  it('creates an experiment in the caller’s team, logs a batch, keeps the latest value and the whole history', async () => {
    const { experiment_id } = await tracking.createExperiment(alice, { name: 'tune' });
    const { experiment } = await tracking.getExperimentByName(alice, { experiment_name: 'tune' });
    expect(experiment).toMatchObject({ experiment_id, name: 'tune', lifecycle_stage: 'active' });
    expect(experiment.tags).toContainEqual({ key: 'aicloud.team', value: 'legal-rag' });
    const { run } = await tracking.createRun(alice, { experiment_id, run_name: 'first' });
    const run_id = run.info.run_id;
    expect(run_id).toMatch(/^[0-9a-f]{32}$/);
    await tracking.logBatch(alice, {
      run_id,
      metrics: [
        { key: 'loss', value: 2, timestamp: 10, step: 0 },
        { key: 'loss', value: 1, timestamp: 11, step: 1 },
        { key: 'loss', value: 'NaN', timestamp: 12, step: 2 },
        { key: 'acc', value: 0.5, timestamp: 12 },
      ],
      params: [{ key: 'lr', value: '0.01' }],
      tags: [{ key: 'stage', value: 'dev' }],
    });
    await tracking.logMetric(alice, { run_id, key: 'loss', value: 0.5, timestamp: 13, step: 3 });
    const { metrics } = await tracking.getMetricHistory(alice, { run_id, metric_key: 'loss' });
    expect(metrics.map((point) => point.value)).toEqual([2, 1, 'NaN', 0.5]);
    const page = await tracking.getMetricHistory(alice, { run_id, metric_key: 'loss', max_results: 3 });
    expect(page.metrics).toHaveLength(3);
    const rest = await tracking.getMetricHistory(alice, {
      run_id,
      metric_key: 'loss',
      max_results: 3,
      page_token: page.next_page_token,
    });
    expect(rest).toEqual({ metrics: [{ key: 'loss', value: 0.5, timestamp: 13, step: 3 }] });
    const got = (await tracking.getRun(alice, { run_id })).run;
    expect(got.data.metrics).toEqual([
      { key: 'acc', value: 0.5, timestamp: 12, step: 0 },
      { key: 'loss', value: 0.5, timestamp: 13, step: 3 },
    ]);
    expect(got.data.params).toEqual([{ key: 'lr', value: '0.01' }]);
    // A param never changes value; the whole batch is refused, nothing of it written.
    const changed = await refusal(
      tracking.logBatch(alice, {
        run_id,
        metrics: [{ key: 'extra', value: 1, timestamp: 1 }],
        params: [{ key: 'lr', value: '0.1' }],
      }),
    );
    expect(changed).toMatchObject({
      code: 'INVALID_PARAMETER_VALUE',
      message: expect.stringMatching(/Changing param values is not allowed/),
    });
    expect((await tracking.getMetricHistory(alice, { run_id, metric_key: 'extra' })).metrics).toEqual([]);
  });

  it('refuses another team’s experiment and runs as missing, and batches over MLflow’s limits', async () => {
    const { experiment_id } = await tracking.createExperiment(alice, { name: 'private' });
    const { run } = await tracking.createRun(alice, { experiment_id });
    expect(await refusal(tracking.getRun(carol, { run_id: run.info.run_id }))).toEqual({
      code: 'RESOURCE_DOES_NOT_EXIST',
      message: `Run with id=${run.info.run_id} not found`,
    });
    expect((await refusal(tracking.getExperiment(carol, { experiment_id }))).code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    expect((await refusal(tracking.getExperimentByName(carol, { experiment_name: 'private' }))).code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    expect((await tracking.searchRuns(carol, { experiment_ids: [experiment_id] })).runs).toEqual([]);
    const metrics = Array.from({ length: 1001 }, (_, step) => ({
      key: 'm',
      value: step,
      timestamp: 1,
      step,
    }));
    expect(await refusal(tracking.logBatch(alice, { run_id: run.info.run_id, metrics }))).toEqual({
      code: 'INVALID_PARAMETER_VALUE',
      message:
        'A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again.',
    });
    expect(await refusal(tracking.createExperiment(alice, { name: 'private' }))).toMatchObject({
      code: 'RESOURCE_ALREADY_EXISTS',
    });
  });

  it('searches runs with the filter grammar and orders them', async () => {
    const { experiment_id } = await tracking.createExperiment(alice, { name: 'grid' });
    for (const [index, lr] of ['0.1', '0.01', '0.001'].entries()) {
      const { run } = await tracking.createRun(alice, {
        experiment_id,
        run_name: `Run-${lr}`,
        start_time: 1000 + index,
      });
      await tracking.logBatch(alice, {
        run_id: run.info.run_id,
        metrics: [{ key: 'acc', value: 0.5 + index / 10, timestamp: 5 }],
        params: [{ key: 'lr', value: lr }],
      });
    }
    const names = async (filter: string, order_by?: string[]) =>
      (await tracking.searchRuns(alice, { experiment_ids: [experiment_id], filter, order_by })).runs.map(
        (run) => run.info.run_name,
      );
    expect(await names('metrics.acc > 0.55', ['metrics.acc ASC'])).toEqual(['Run-0.01', 'Run-0.001']);
    expect(await names(`params.lr = '0.1'`)).toEqual(['Run-0.1']);
    expect(await names(`params.lr LIKE '0.0%'`, ['params.lr DESC'])).toEqual(['Run-0.01', 'Run-0.001']);
    // LIKE is case-sensitive on both engines, ILIKE is not.
    expect(await names(`attributes.run_name LIKE 'run-%'`)).toEqual([]);
    expect(await names(`attributes.run_name ILIKE 'run-%'`, ['attributes.start_time'])).toEqual([
      'Run-0.1',
      'Run-0.01',
      'Run-0.001',
    ]);
    expect(
      await names(`tags.mlflow.runName IN ('Run-0.1', 'Run-0.001') and attributes.status = 'RUNNING'`, [
        'start_time DESC',
      ]),
    ).toEqual(['Run-0.001', 'Run-0.1']);
    const first = await tracking.searchRuns(alice, { experiment_ids: [experiment_id], max_results: 2 });
    const second = await tracking.searchRuns(alice, {
      experiment_ids: [experiment_id],
      max_results: 2,
      page_token: first.next_page_token,
    });
    expect([...first.runs, ...second.runs].map((run) => run.info.run_name)).toEqual([
      'Run-0.001',
      'Run-0.01',
      'Run-0.1',
    ]);
    expect(second.next_page_token).toBeUndefined();
    expect(
      (
        await refusal(
          tracking.searchRuns(alice, { experiment_ids: [experiment_id], filter: 'metrics.acc ~ 1' }),
        )
      ).code,
    ).toBe('INVALID_PARAMETER_VALUE');
  });

  it('records a job as a run (recordJobRuns): params, metric events, status, artifacts under its output', async () => {
    const recorder = recordJobRuns({
      store: platform.store,
      clock: platform.clock,
      dataDir: platform.dataDir,
    });
    const output = join(platform.dataDir, 'job-output');
    mkdirSync(join(output, 'ckpt'), { recursive: true });
    writeFileSync(join(output, 'ckpt', 'model.bin'), 'weights');
    symlinkSync('/etc', join(output, 'escape'));
    const runId = await recorder.start({
      jobId: 'job_0123456789abcdef',
      team: 'legal-rag',
      owner: 'alice',
      runName: 'fine-tune',
      params: { product: 'fine-tune', dataset: '/data/legal' },
      artifactDir: output,
    });
    expect(
      await recorder.start({
        jobId: 'job_0123456789abcdef',
        team: 'legal-rag',
        owner: 'alice',
        runName: 'x',
      }),
    ).toBe(runId);
    expect(await recorder.runOfJob('job_0123456789abcdef')).toBe(runId);
    await recorder.logMetrics(runId, [
      { name: 'loss', value: 1.5, step: 1, timestamp: 100 },
      { name: 'loss', value: 0.7, step: 2, timestamp: 200 },
    ]);
    await recorder.end(runId, 'FINISHED', 300);
    const { run } = await tracking.getRun(alice, { run_id: runId });
    expect(run.info).toMatchObject({
      status: 'FINISHED',
      end_time: 300,
      user_id: 'alice',
      run_name: 'fine-tune',
    });
    expect(run.data.params).toEqual([
      { key: 'dataset', value: '/data/legal' },
      { key: 'product', value: 'fine-tune' },
    ]);
    expect(run.data.tags).toContainEqual({ key: 'aicloud.job', value: 'job_0123456789abcdef' });
    expect(run.data.metrics).toEqual([{ key: 'loss', value: 0.7, timestamp: 200, step: 2 }]);
    const { experiment } = await tracking.getExperiment(alice, { experiment_id: run.info.experiment_id });
    expect(experiment.name).toBe('legal-rag');
    // The link out of the output dir is not listed.
    expect((await tracking.listArtifacts(alice, { run_id: runId })).files).toEqual([
      { path: 'ckpt', is_dir: true },
    ]);
    expect((await tracking.listArtifacts(alice, { run_id: runId, path: 'ckpt' })).files).toEqual([
      { path: 'ckpt/model.bin', is_dir: false, file_size: 7 },
    ]);
    expect((await refusal(tracking.listArtifacts(alice, { run_id: runId, path: '../..' }))).code).toBe(
      'INVALID_PARAMETER_VALUE',
    );
    expect((await refusal(recorder.logMetrics('f'.repeat(32), [{ name: 'x', value: 1 }]))).code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    expect((await refusal(recorder.logMetrics(runId, [{ name: '../x', value: 1 }]))).code).toBe(
      'INVALID_PARAMETER_VALUE',
    );
  });

  it('deletes and restores experiments with their runs; a deleted run takes no writes', async () => {
    const { experiment_id } = await tracking.createExperiment(alice, { name: 'gone' });
    const { run } = await tracking.createRun(alice, { experiment_id });
    await tracking.deleteExperiment(alice, { experiment_id });
    expect((await tracking.getRun(alice, { run_id: run.info.run_id })).run.info.lifecycle_stage).toBe(
      'deleted',
    );
    expect(
      (await refusal(tracking.logParam(alice, { run_id: run.info.run_id, key: 'a', value: 'b' }))).message,
    ).toMatch(/must be in the 'active' state/);
    const active = await tracking.searchExperiments(alice, { filter: "name = 'gone'" });
    expect(active.experiments).toEqual([]);
    const deleted = await tracking.searchExperiments(alice, {
      filter: "name = 'gone'",
      view_type: 'DELETED_ONLY',
    });
    expect(deleted.experiments.map((experiment) => experiment.experiment_id)).toEqual([experiment_id]);
    await tracking.restoreExperiment(alice, { experiment_id });
    await tracking.logParam(alice, { run_id: run.info.run_id, key: 'a', value: 'b' });
    await tracking.updateRun(alice, { run_id: run.info.run_id, status: 'FAILED', end_time: 5 });
    expect((await tracking.getRun(alice, { run_id: run.info.run_id })).run.info).toMatchObject({
      status: 'FAILED',
      end_time: 5,
    });
    expect((await refusal(tracking.deleteExperiment(carol, { experiment_id }))).code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
  });
});
