import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import MLflow from 'mlflow';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from './test-app.ts';

let testApp: TestApp;
let url: string;

// biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON, checked by the assertions; the package's own typings demand fields MLflow makes optional.
type Call = (request?: Record<string, unknown>) => Promise<any>;
interface Client {
  Experiments: Record<'create' | 'get' | 'list' | 'setExperimentTag', Call>;
  Runs: Record<
    | 'create'
    | 'get'
    | 'update'
    | 'logMetric'
    | 'logParameter'
    | 'setTag'
    | 'deleteTag'
    | 'logBatch'
    | 'search',
    Call
  >;
  Metrics: Record<'getHistory', Call>;
  Artifacts: Record<'list', Call>;
}

/** The real `mlflow` npm client (a third-party MLflow REST client) signed in as a seeded user. */
function clientAs(user: string): Client {
  return new MLflow({
    endpoint: url,
    headers: { Authorization: `Bearer ${testApp.tokens[user]}` },
  }) as unknown as Client;
}

/** What the client threw: it wraps MLflow's answer as JSON `{status, data}` in the error's message. */
async function failure(promise: Promise<unknown>): Promise<{ status: number; data: unknown }> {
  try {
    await promise;
  } catch (error) {
    const text = (error as Error).message;
    return JSON.parse(text.slice(text.indexOf('{'))) as { status: number; data: unknown };
  }
  throw new Error('expected the call to fail');
}

async function raw(method: string, path: string, user: string | null, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(user ? { authorization: `Bearer ${testApp.tokens[user]}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type') ?? '', text };
}

beforeAll(async () => {
  // The client prints every request body; keep the test output readable.
  vi.spyOn(console, 'log').mockImplementation(() => {});
  testApp = await startTestApp();
  url = await testApp.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await testApp?.close();
  vi.restoreAllMocks();
});

describe('MLflow tracking API through the mlflow npm client', () => {
  it('creates an experiment and a run, logs params, metrics and batches, and reads the history back', async () => {
    const client = clientAs('alice');
    const { experiment_id } = await client.Experiments.create({ name: 'legal-tune' });
    expect(experiment_id).toMatch(/^\d+$/);
    const { experiment } = await client.Experiments.get({ experiment_id });
    expect(experiment).toMatchObject({ name: 'legal-tune', lifecycle_stage: 'active' });
    const { experiments } = await client.Experiments.list();
    expect(experiments.map((item: { name: string }) => item.name)).toContain('legal-tune');

    const { run } = await client.Runs.create({ experiment_id, start_time: Date.now() });
    const run_id = run.info.run_id as string;
    expect(run.info).toMatchObject({
      experiment_id,
      user_id: 'alice',
      status: 'RUNNING',
      lifecycle_stage: 'active',
    });
    await client.Runs.logParameter({ run_id, key: 'lr', value: '0.001' });
    await client.Runs.setTag({ run_id, key: 'stage', value: 'dev' });
    for (let step = 0; step < 3; step++) {
      await client.Runs.logMetric({
        run_id,
        key: 'loss',
        value: 1 / (step + 1),
        timestamp: 1000 + step,
        step,
      });
    }
    await client.Runs.logBatch({
      run_id,
      metrics: Array.from({ length: 500 }, (_, index) => ({
        key: 'loss',
        value: index / 1000,
        timestamp: 2000 + index,
        step: 3 + index,
      })),
      params: [{ key: 'epochs', value: '3' }],
      tags: [{ key: 'dataset', value: 'legal-v2' }],
    });
    const history = await client.Metrics.getHistory({ run_id, metric_key: 'loss' });
    expect(history.metrics).toHaveLength(503);
    expect(history.metrics[0]).toEqual({ key: 'loss', value: 1, timestamp: 1000, step: 0 });
    expect(history.metrics.at(-1)).toEqual({ key: 'loss', value: 0.499, timestamp: 2499, step: 502 });

    await client.Runs.update({ run_id, status: 'FINISHED', end_time: Date.now() });
    const got = (await client.Runs.get({ run_id })).run;
    expect(got.info.status).toBe('FINISHED');
    expect(got.data.metrics).toEqual([{ key: 'loss', value: 0.499, timestamp: 2499, step: 502 }]);
    expect(got.data.params).toEqual([
      { key: 'epochs', value: '3' },
      { key: 'lr', value: '0.001' },
    ]);
    expect(got.data.tags).toEqual(
      expect.arrayContaining([
        { key: 'stage', value: 'dev' },
        { key: 'dataset', value: 'legal-v2' },
      ]),
    );
    await client.Runs.deleteTag({ run_id, key: 'stage' });
    expect((await client.Runs.get({ run_id })).run.data.tags).not.toContainEqual({
      key: 'stage',
      value: 'dev',
    });

    // The same API answers under /ajax-api (MLflow's web UI's prefix), paginated history with a page token.
    const page = await raw(
      'GET',
      `/ajax-api/2.0/mlflow/metrics/get-history?run_id=${run_id}&metric_key=loss&max_results=500`,
      'alice',
    );
    const first = JSON.parse(page.text) as { metrics: unknown[]; next_page_token: string };
    expect(first.metrics).toHaveLength(500);
    const next = await raw(
      'GET',
      `/api/2.0/mlflow/metrics/get-history?run_id=${run_id}&metric_key=loss&max_results=500&page_token=${encodeURIComponent(first.next_page_token)}`,
      'alice',
    );
    expect(JSON.parse(next.text).metrics).toHaveLength(3);
  });

  it('refuses log-batch over MLflow’s limits with MLflow’s code and message, writing nothing', async () => {
    const client = clientAs('alice');
    const { experiment_id } = await client.Experiments.create({ name: 'limits' });
    const run_id = (await client.Runs.create({ experiment_id })).run.info.run_id as string;
    const point = (index: number) => ({ key: 'm', value: index, timestamp: 1, step: index });
    const cases: [Record<string, unknown>, string][] = [
      [
        { metrics: Array.from({ length: 1001 }, (_, index) => point(index)) },
        'A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again.',
      ],
      [
        { params: Array.from({ length: 101 }, (_, index) => ({ key: `p${index}`, value: 'v' })) },
        'A batch logging request can contain at most 100 params. Got 101 params. Please split up params across multiple requests and try again.',
      ],
      [
        { tags: Array.from({ length: 101 }, (_, index) => ({ key: `t${index}`, value: 'v' })) },
        'A batch logging request can contain at most 100 tags. Got 101 tags. Please split up tags across multiple requests and try again.',
      ],
      [
        {
          metrics: Array.from({ length: 950 }, (_, index) => point(index)),
          params: Array.from({ length: 60 }, (_, index) => ({ key: `p${index}`, value: 'v' })),
        },
        'A batch logging request can contain at most 1000 metrics, params, and tags. Got 1010 metrics, params, and tags. Please split up metrics, params, and tags across multiple requests and try again.',
      ],
    ];
    for (const [batch, message] of cases) {
      expect(await failure(client.Runs.logBatch({ run_id, ...batch }))).toMatchObject({
        status: 400,
        data: { error_code: 'INVALID_PARAMETER_VALUE', message },
      });
    }
    expect((await client.Metrics.getHistory({ run_id, metric_key: 'm' })).metrics ?? []).toEqual([]);
    expect(
      await failure(
        client.Runs.logMetric({ run_id, key: 'bad', value: 'high' as unknown as number, timestamp: 1 }),
      ),
    ).toMatchObject({ status: 400, data: { error_code: 'INVALID_PARAMETER_VALUE' } });
    expect(await failure(client.Experiments.create({ name: 'limits' }))).toMatchObject({
      status: 400,
      data: { error_code: 'RESOURCE_ALREADY_EXISTS' },
    });
  });

  it('answers another team’s experiment and run as missing (404 RESOURCE_DOES_NOT_EXIST)', async () => {
    const alice = clientAs('alice');
    const carol = clientAs('carol');
    const { experiment_id } = await alice.Experiments.create({ name: 'legal-private' });
    const run_id = (await alice.Runs.create({ experiment_id })).run.info.run_id as string;
    expect(await failure(carol.Runs.get({ run_id }))).toEqual({
      status: 404,
      statusText: 'Not Found',
      data: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${run_id} not found` },
    });
    expect(await failure(carol.Runs.logMetric({ run_id, key: 'x', value: 1, timestamp: 1 }))).toMatchObject({
      status: 404,
    });
    expect(await failure(carol.Experiments.get({ experiment_id }))).toMatchObject({
      status: 404,
      data: {
        error_code: 'RESOURCE_DOES_NOT_EXIST',
        message: `No Experiment with id=${experiment_id} exists`,
      },
    });
    expect(await failure(carol.Metrics.getHistory({ run_id, metric_key: 'x' }))).toMatchObject({
      status: 404,
    });
    expect(await failure(carol.Artifacts.list({ run_id }))).toMatchObject({ status: 404 });
    const { runs } = await carol.Runs.search({ experiment_ids: [experiment_id] });
    expect(runs ?? []).toEqual([]);
    const { experiments } = await carol.Experiments.list();
    expect(experiments.map((item: { name: string }) => item.name)).not.toContain('legal-private');
  });

  it('searches runs with MLflow’s filter grammar and order_by', async () => {
    const client = clientAs('alice');
    const { experiment_id } = await client.Experiments.create({ name: 'sweep' });
    for (const [index, optimizer] of ['adam', 'sgd', 'adamw'].entries()) {
      const run_id = (await client.Runs.create({ experiment_id, start_time: 10 + index })).run.info.run_id;
      await client.Runs.logBatch({
        run_id,
        metrics: [{ key: 'val acc', value: 0.7 + index / 10, timestamp: 1, step: 0 }],
        params: [{ key: 'optimizer', value: optimizer }],
        tags: [{ key: 'mlflow.runName', value: `${optimizer}-run` }],
      });
      if (optimizer === 'sgd') await client.Runs.update({ run_id, status: 'FAILED', end_time: 20 });
    }
    const names = async (filter: string, order_by?: string[]) =>
      ((await client.Runs.search({ experiment_ids: [experiment_id], filter, order_by })).runs ?? []).map(
        (run: { info: { run_name: string } }) => run.info.run_name,
      );
    expect(await names("params.optimizer LIKE 'adam%'", ['metrics.`val acc` DESC'])).toEqual([
      'adamw-run',
      'adam-run',
    ]);
    expect(await names('metrics.`val acc` >= 0.8 and attributes.status = "RUNNING"')).toEqual(['adamw-run']);
    expect(await names("tags.mlflow.runName != 'sgd-run'", ['attributes.start_time ASC'])).toEqual([
      'adam-run',
      'adamw-run',
    ]);
    expect(await names("params.optimizer IN ('sgd', 'adam')", ['params.optimizer'])).toEqual([
      'adam-run',
      'sgd-run',
    ]);
    expect(await names('attributes.end_time = 20')).toEqual(['sgd-run']);
    const paged = await client.Runs.search({ experiment_ids: [experiment_id], max_results: 2 });
    expect(paged.runs).toHaveLength(2);
    expect(paged.next_page_token).toEqual(expect.any(String));
    for (const filter of [
      "params.optimizer = 'adam' OR params.optimizer = 'sgd'",
      'metrics.acc > high',
      "colour = 'red'",
    ]) {
      expect(await failure(client.Runs.search({ experiment_ids: [experiment_id], filter }))).toMatchObject({
        status: 400,
        data: { error_code: 'INVALID_PARAMETER_VALUE' },
      });
    }
  });

  it('answers unknown MLflow paths, unauthenticated calls and malformed bodies in MLflow’s JSON, never the portal', async () => {
    for (const [method, path] of [
      ['GET', '/api/2.0/mlflow/no-such-thing'],
      ['POST', '/api/2.0/mlflow/runs/teleport'],
      ['GET', '/ajax-api/2.0/mlflow/experiments/nope'],
      ['GET', '/api/2.0/mlflow-artifacts/nothing'],
      ['DELETE', '/api/2.0/mlflow/runs/get'],
    ] as const) {
      const response = await raw(method, path, 'alice');
      expect(response.status, path).toBe(404);
      expect(response.type).toMatch(/application\/json/);
      expect(JSON.parse(response.text)).toMatchObject({ error_code: 'ENDPOINT_NOT_FOUND' });
    }
    const anonymous = await raw('GET', '/api/2.0/mlflow/experiments/list', null);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text)).toMatchObject({ error_code: 'UNAUTHENTICATED' });
    const unknownAnonymous = await raw('GET', '/api/2.0/mlflow/whatever', null);
    expect(unknownAnonymous.status).toBe(401);
    expect(unknownAnonymous.type).toMatch(/application\/json/);
    const malformed = await raw('POST', '/api/2.0/mlflow/experiments/create', 'alice', '{"name":');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text)).toMatchObject({ error_code: 'MALFORMED_REQUEST' });
    const missing = await raw('POST', '/api/2.0/mlflow/runs/create', 'alice', {});
    expect(JSON.parse(missing.text)).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message:
        "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters.",
    });
    // The client's own broken path for set-experiment-tag (no slash) meets the same JSON 404.
    expect(
      await failure(
        clientAs('alice').Experiments.setExperimentTag({ experiment_id: '1', key: 'a', value: 'b' }),
      ),
    ).toMatchObject({ status: 404, data: { error_code: 'ENDPOINT_NOT_FOUND' } });
  });

  it('lists and downloads a run’s artifacts, never outside its root', async () => {
    const client = clientAs('alice');
    const { experiment_id } = await client.Experiments.create({ name: 'artifacts' });
    const run_id = (await client.Runs.create({ experiment_id })).run.info.run_id as string;
    const root = join(testApp.platform.dataDir, 'tracking', experiment_id, run_id, 'artifacts');
    mkdirSync(join(root, 'model'), { recursive: true });
    writeFileSync(join(root, 'model', 'weights.bin'), 'w1');
    const listed = await client.Artifacts.list({ run_id });
    expect(listed).toEqual({
      root_uri: `mlflow-artifacts:/${experiment_id}/${run_id}/artifacts`,
      files: [{ path: 'model', is_dir: true }],
    });
    const file = await raw(
      'GET',
      `/api/2.0/mlflow-artifacts/artifacts/${experiment_id}/${run_id}/artifacts/model/weights.bin`,
      'alice',
    );
    expect(file).toMatchObject({ status: 200, text: 'w1' });
    const viaUi = await raw(
      'GET',
      `/ajax-api/2.0/mlflow/get-artifact?run_uuid=${run_id}&path=model/weights.bin`,
      'alice',
    );
    expect(viaUi).toMatchObject({ status: 200, text: 'w1' });
    const escaped = await raw(
      'GET',
      `/ajax-api/2.0/mlflow/get-artifact?run_uuid=${run_id}&path=../../../../aicloud.db`,
      'alice',
    );
    expect(escaped.status).toBe(400);
    const otherTeam = await raw(
      'GET',
      `/api/2.0/mlflow-artifacts/artifacts/${experiment_id}/${run_id}/artifacts/model/weights.bin`,
      'carol',
    );
    expect(otherTeam.status).toBe(404);
  });
});
