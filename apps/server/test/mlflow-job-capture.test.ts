import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { jobPaths } from '@aicloud/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/repo-paths.ts';
import { type RunningServer, startServer } from '../src/start-server.ts';

// Zero-code capture: every aicloud job is an MLflow run. Its `{"event":"metric",…}` lines become run metrics,
// its product, placement and datasets params, its end the run's status; and the job can log to its own run
// with any MLflow client through MLFLOW_TRACKING_URI / MLFLOW_RUN_ID / MLFLOW_TRACKING_TOKEN — to that run only.

let server: RunningServer;
let dataDir: string;
let alice: Client;
let aliceToken: string;

async function mlflow(path: string, token: string, body?: unknown) {
  const response = await fetch(`${server.url}/api/2.0/mlflow${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON, checked by the assertions.
  return { status: response.status, body: (await response.json()) as any };
}

beforeAll(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'aicloud-capture-')), 'data');
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    tickIntervalMs: 200,
  });
  aliceToken = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')).alice.token;
  alice = createClient({ url: server.url, token: aliceToken });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('every job is an MLflow run', () => {
  it('records its metric lines, params and end, and lets it log to its own run only', async () => {
    // Another run of the same team, which the job's run token must not reach.
    const experiment = await mlflow('/experiments/create', aliceToken, { name: 'capture-other' });
    expect(experiment.status).toBe(200);
    const other = await mlflow('/runs/create', aliceToken, {
      experiment_id: experiment.body.experiment_id,
      start_time: Date.now(),
    });
    const otherRun = other.body.run.info.run_id as string;

    const script = [
      'import json, os, urllib.request, urllib.error',
      'print(json.dumps({"event": "metric", "step": 1, "loss": 0.5}), flush=True)',
      'print(json.dumps({"event": "metric", "step": 2, "loss": 0.25}), flush=True)',
      'def call(path, body):',
      '    request = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow" + path,',
      '        data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json",',
      '        "authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})',
      '    try:',
      '        return urllib.request.urlopen(request, timeout=10).status',
      '    except urllib.error.HTTPError as error:',
      '        return error.code',
      'run = os.environ["MLFLOW_RUN_ID"]',
      'print("own", call("/runs/log-metric", {"run_id": run, "key": "accuracy", "value": 0.9, "timestamp": 1, "step": 0}), flush=True)',
      `print("other", call("/runs/log-metric", {"run_id": "${otherRun}", "key": "x", "value": 1, "timestamp": 1}), flush=True)`,
      'print("create", call("/experiments/create", {"name": "from-a-job"}), flush=True)',
    ].join('\n');
    const { job } = await alice.jobs.submit({
      product: 'batch-inference',
      maxRuntime: '5m',
      name: 'captured',
      command: `python3 - <<'PY'\n${script}\nPY`,
    });
    const deadline = Date.now() + 60_000;
    let current = await alice.jobs.get(job!.id);
    while (['admitted', 'queued', 'running'].includes(current.status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      current = await alice.jobs.get(job!.id);
    }
    const log = readFileSync(jobPaths(dataDir, job!.id).logFile, 'utf8');
    expect(current.status, log).toBe('succeeded');
    expect(log).toContain('own 200');
    expect(log).toContain('other 404'); // as if that run did not exist
    expect(log).toContain('create 403');

    // The job's experiment is its team's; search it by name to be independent of search defaults.
    const teamExperiment = await mlflow('/experiments/get-by-name?experiment_name=legal-rag', aliceToken);
    expect(teamExperiment.status).toBe(200);
    const runs = await mlflow('/runs/search', aliceToken, {
      experiment_ids: [teamExperiment.body.experiment.experiment_id],
      filter: `tags.\`aicloud.job\` = '${job!.id}'`,
    });
    expect(runs.status, JSON.stringify(runs.body)).toBe(200);
    expect(runs.body.runs).toHaveLength(1);
    const run = runs.body.runs[0];
    expect(run.info.status).toBe('FINISHED');
    expect(run.info.run_name).toBe('captured');
    const params = Object.fromEntries(
      run.data.params.map((param: { key: string; value: string }) => [param.key, param.value]),
    );
    expect(params).toMatchObject({ product: 'batch-inference', gpus: '0', executor: 'local' });
    const history = await mlflow(
      `/metrics/get-history?run_id=${run.info.run_id}&metric_key=loss`,
      aliceToken,
    );
    expect(
      history.body.metrics.map((point: { step: number; value: number }) => [point.step, point.value]),
    ).toEqual([
      [1, 0.5],
      [2, 0.25],
    ]);
    const metrics = Object.fromEntries(
      run.data.metrics.map((metric: { key: string; value: number }) => [metric.key, metric.value]),
    );
    expect(metrics).toMatchObject({ loss: 0.25, accuracy: 0.9 });
    // The other run got nothing from the job.
    const untouched = await mlflow(`/runs/get?run_id=${otherRun}`, aliceToken);
    expect(untouched.body.run.data.metrics ?? []).toEqual([]);
  }, 120_000);
});
