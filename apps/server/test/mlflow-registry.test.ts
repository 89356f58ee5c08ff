import { request as httpRequest } from 'node:http';
import MLflow from 'mlflow';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from './test-app.ts';

let testApp: TestApp;
let url: string;

// biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON, checked by the assertions.
type Call = (request?: Record<string, unknown>) => Promise<any>;
interface Client {
  Experiments: Record<'create', Call>;
  Runs: Record<'create' | 'logBatch' | 'update', Call>;
  Artifacts: Record<'list', Call>;
}

/** The real `mlflow` npm client (tracking and artifact listing; it has no registry or upload calls). */
function clientAs(user: string): Client {
  return new MLflow({
    endpoint: url,
    headers: { Authorization: `Bearer ${testApp.tokens[user]}` },
  }) as unknown as Client;
}

/** A call in MLflow's REST shapes (what MLflow's Python client sends: GET query strings, JSON bodies). */
async function mlflow(
  method: string,
  path: string,
  token: string,
  body?: Record<string, unknown>,
  // biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON, checked by the assertions.
): Promise<{ status: number; json: any }> {
  const query = method === 'GET' && body ? `?${new URLSearchParams(body as Record<string, string>)}` : '';
  const response = await fetch(`${url}/api/2.0/mlflow${path}${query}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(method !== 'GET' && body ? { 'content-type': 'application/json' } : {}),
    },
    ...(method !== 'GET' && body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, json: await response.json() };
}

const artifactsUrl = (rest: string) => `${url}/api/2.0/mlflow-artifacts/artifacts/${rest}`;

async function upload(token: string, rest: string, body: BodyInit, headers: Record<string, string> = {}) {
  const response = await fetch(artifactsUrl(rest), {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: response.status, json: await response.json() };
}

let experimentId: string;
let runId: string;
const weights = Buffer.from('tiny but real weights\n'.repeat(100));

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  testApp = await startTestApp();
  url = await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  const client = clientAs('alice');
  ({ experiment_id: experimentId } = await client.Experiments.create({ name: 'registry-e2e' }));
  const { run } = await client.Runs.create({ experiment_id: experimentId, start_time: Date.now() });
  runId = run.info.run_id;
  await client.Runs.logBatch({
    run_id: runId,
    metrics: [
      { key: 'eval_loss', value: 0.7, timestamp: Date.now(), step: 0 },
      { key: 'eval_loss', value: 0.31, timestamp: Date.now(), step: 1 },
      { key: 'eval_accuracy', value: 0.82, timestamp: Date.now(), step: 1 },
    ],
  });
});
afterAll(async () => {
  await testApp?.close();
  vi.restoreAllMocks();
});

describe('MLflow artifact proxy and model registry over HTTP', () => {
  it('uploads a run’s artifacts through mlflow-artifacts, lists and downloads them', async () => {
    const alice = testApp.tokens.alice!;
    const base = `${experimentId}/${runId}/artifacts`;
    expect(await upload(alice, `${base}/model/weights.bin`, weights)).toEqual({ status: 200, json: {} });
    // Streamed without a Content-Length (chunked), as a client uploading a large file does.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"layers": 2}'));
        controller.close();
      },
    });
    expect((await upload(alice, `${base}/model/config.json`, stream)).status).toBe(200);
    const listing = await clientAs('alice').Artifacts.list({ run_id: runId, path: 'model' });
    expect(listing.files).toEqual([
      { path: 'model/config.json', is_dir: false, file_size: 13 },
      { path: 'model/weights.bin', is_dir: false, file_size: weights.length },
    ]);
    const proxied = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts?path=${base}/model`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect((await proxied.json()).files.map((file: { path: string }) => file.path)).toEqual([
      'config.json',
      'weights.bin',
    ]);
    const download = await fetch(artifactsUrl(`${base}/model/weights.bin`), {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(Buffer.from(await download.arrayBuffer()).equals(weights)).toBe(true);
  });

  it('refuses traversal, another team’s run and a file over the cap, in MLflow’s codes', async () => {
    const alice = testApp.tokens.alice!;
    const base = `${experimentId}/${runId}/artifacts`;
    const encoded = await upload(alice, `${base}/..%2F..%2F..%2Fescape.txt`, 'x');
    expect(encoded).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE' } });
    // The literal dot segments, sent as they are (fetch would resolve them before sending).
    const literal = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const target = new URL(url);
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: 'PUT',
          path: `/api/2.0/mlflow-artifacts/artifacts/${base}/../../../../escape.txt`,
          headers: { authorization: `Bearer ${alice}`, 'content-length': '1' },
        },
        (response) => {
          let body = '';
          response.on('data', (chunk) => {
            body += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('x');
    });
    expect(literal.status).toBe(400);
    expect(JSON.parse(literal.body).error_code).toBe('INVALID_PARAMETER_VALUE');

    const carol = await upload(testApp.tokens.carol!, `${base}/planted.bin`, 'x');
    expect(carol).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });

    testApp.platform.config.mlflowArtifactMaxBytes = 1024;
    try {
      const announced = await upload(alice, `${base}/big.bin`, Buffer.alloc(2048));
      expect(announced).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE' } });
      expect(announced.json.message).toContain('at most 1024 bytes');
      const chunked = new ReadableStream({
        start(controller) {
          for (let index = 0; index < 4; index++) controller.enqueue(new Uint8Array(512));
          controller.close();
        },
      });
      expect((await upload(alice, `${base}/big.bin`, chunked)).json.error_code).toBe(
        'INVALID_PARAMETER_VALUE',
      );
    } finally {
      testApp.platform.config.mlflowArtifactMaxBytes = undefined;
    }
    const listing = await clientAs('alice').Artifacts.list({ run_id: runId });
    expect(listing.files.map((file: { path: string }) => file.path)).toEqual(['model']);
  });

  it('registers the uploaded artifact as a version carrying the run’s metrics; aliases, search, other team 404', async () => {
    const alice = testApp.tokens.alice!;
    const created = await mlflow('POST', '/registered-models/create', alice, { name: 'clause-tagger' });
    expect(created).toMatchObject({ status: 200, json: { registered_model: { name: 'clause-tagger' } } });
    const version = await mlflow('POST', '/model-versions/create', alice, {
      name: 'clause-tagger',
      source: `runs:/${runId}/model`,
      run_id: runId,
    });
    expect(version.status).toBe(200);
    expect(version.json.model_version).toMatchObject({
      name: 'clause-tagger',
      version: '1',
      run_id: runId,
      status: 'READY',
      current_stage: 'None',
    });
    expect(version.json.model_version.tags).toEqual(
      expect.arrayContaining([
        { key: 'aicloud.metric.eval_loss', value: '0.31' },
        { key: 'aicloud.metric.eval_accuracy', value: '0.82' },
      ]),
    );
    // The same version through aicloud's own API: one registry, two APIs.
    const native = await testApp.app.inject({
      method: 'GET',
      url: '/v1/models/clause-tagger/versions/1',
      headers: testApp.as('alice'),
    });
    expect(native.statusCode).toBe(200);
    expect(native.json()).toMatchObject({
      version: 1,
      metrics: { eval_loss: 0.31, eval_accuracy: 0.82 },
      scanVerdict: 'passed',
    });

    expect(
      await mlflow('POST', '/registered-models/alias', alice, {
        name: 'clause-tagger',
        alias: 'champion',
        version: '1',
      }),
    ).toEqual({ status: 200, json: {} });
    const byAlias = await mlflow('GET', '/registered-models/alias', alice, {
      name: 'clause-tagger',
      alias: 'champion',
    });
    expect(byAlias.json.model_version).toMatchObject({ version: '1', aliases: ['champion'] });

    const search = await mlflow('GET', '/registered-models/search', alice, { filter: "name LIKE 'clause%'" });
    expect(search.json.registered_models.map((model: { name: string }) => model.name)).toEqual([
      'clause-tagger',
    ]);
    expect(search.json.registered_models[0].aliases).toEqual([{ alias: 'champion', version: '1' }]);
    const versions = await mlflow('GET', '/model-versions/search', alice, { filter: `run_id = '${runId}'` });
    expect(versions.json.model_versions.map((item: { version: string }) => item.version)).toEqual(['1']);

    const uri = await mlflow('GET', '/model-versions/get-download-uri', alice, {
      name: 'clause-tagger',
      version: '1',
    });
    const registered = await fetch(
      artifactsUrl(`${uri.json.artifact_uri.replace('mlflow-artifacts:/', '')}/weights.bin`),
      { headers: { authorization: `Bearer ${alice}` } },
    );
    expect(Buffer.from(await registered.arrayBuffer()).equals(weights)).toBe(true);

    const carol = testApp.tokens.carol!;
    const hidden = await mlflow('GET', '/registered-models/get', carol, { name: 'clause-tagger' });
    expect(hidden).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    const hiddenAlias = await mlflow('GET', '/registered-models/alias', carol, {
      name: 'clause-tagger',
      alias: 'champion',
    });
    expect(hiddenAlias.status).toBe(404);
    const carolSearch = await mlflow('GET', '/model-versions/search', carol, {
      filter: `run_id = '${runId}'`,
    });
    expect(carolSearch.json.model_versions).toEqual([]);
    const missing = await mlflow('DELETE', '/model-versions/delete', alice, {
      name: 'clause-tagger',
      version: '7',
    });
    expect(missing).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
  });

  it('lets a job’s run token upload to its own run only', async () => {
    const platform = testApp.platform;
    const { run } = await clientAs('alice').Runs.create({ experiment_id: experimentId });
    await platform.store.db
      .updateTable('tracking_runs')
      .set({ job_id: 'job_scopetest' })
      .where('id', '=', run.info.run_id)
      .execute();
    const user = await platform.store.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', 'alice')
      .executeTakeFirstOrThrow();
    const { token } = await platform.store.db.transaction().execute((trx) =>
      platform.identity.createTokenInTrx(trx, user.id, {
        name: 'run:job_scopetest',
        scope: 'job:job_scopetest',
      }),
    );
    const own = await upload(token, `${experimentId}/${run.info.run_id}/artifacts/out.txt`, 'mine');
    expect(own).toEqual({ status: 200, json: {} });
    const other = await upload(token, `${experimentId}/${runId}/artifacts/out.txt`, 'not mine');
    expect(other).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    const registry = await mlflow('GET', '/registered-models/search', token);
    expect(registry).toMatchObject({ status: 403 });
  });
});
