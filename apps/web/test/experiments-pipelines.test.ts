import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import type { Pipeline } from '@aicloud/contracts';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';

const screenshots = join(import.meta.dirname, '../../../docs/screenshots');

let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;
let alice: Client;
let pipeline: Pipeline;
let carolExperimentId: string;

/** One MLflow REST call with a user's token as the bearer, as MLflow's clients send it. */
async function mlflow<T>(user: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${server.url}/api/2.0/mlflow/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens[user]!.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A finished run with params and a loss curve over 5 steps. */
async function logRun(experimentId: string, name: string, lr: string, losses: number[]): Promise<string> {
  const start = Date.now() - 90_000;
  const { run } = await mlflow<{ run: { info: { run_id: string } } }>('alice', 'runs/create', {
    experiment_id: experimentId,
    run_name: name,
    start_time: start,
  });
  const runId = run.info.run_id;
  await mlflow('alice', 'runs/log-batch', {
    run_id: runId,
    params: [
      { key: 'lr', value: lr },
      { key: 'batch_size', value: '16' },
    ],
    metrics: losses.flatMap((loss, step) => [
      { key: 'loss', value: loss, timestamp: start + step * 1000, step },
      { key: 'accuracy', value: 1 - loss, timestamp: start + step * 1000, step },
    ]),
  });
  await mlflow('alice', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: start + 75_000 });
  return runId;
}

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'aicloud-experiments-web-'));
  const dataDir = join(work, 'data');
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(import.meta.dirname, '../../../seed/demo.yaml'),
    webRoot,
    importRoots: { 'legal-rag': [work] },
  });
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  alice = createClient({ url: server.url, token: tokens.alice!.token });

  const { experiment_id } = await mlflow<{ experiment_id: string }>('alice', 'experiments/create', {
    name: 'web-compare',
  });
  await logRun(experiment_id, 'lr-small', '0.001', [0.9, 0.7, 0.55, 0.45, 0.4]);
  await logRun(experiment_id, 'lr-big', '0.01', [0.9, 0.5, 0.3, 0.25, 0.2]);
  // Another team's experiment (carol is in `search` only): alice must never see it.
  carolExperimentId = (
    await mlflow<{ experiment_id: string }>('carol', 'experiments/create', { name: 'search-secret' })
  ).experiment_id;

  // A pipeline whose first step succeeds and one of its two dependants fails: a DAG with mixed states.
  pipeline = await alice.pipelines.create({
    name: 'web-dag',
    steps: [
      { name: 'make', product: 'batch-inference', command: 'echo hi > "$AICLOUD_OUTPUT_DIR/x"' },
      {
        name: 'use',
        product: 'batch-inference',
        command: 'cat "$AICLOUD_INPUT_MAKE/x"',
        dependsOn: ['make'],
      },
      { name: 'boom', product: 'batch-inference', command: 'exit 3', dependsOn: ['make'] },
    ],
  });
  const deadline = Date.now() + 90_000;
  // Until every step has ended: the pipeline fails when boom does, and use, its sibling, may still be running.
  const unsettled = () =>
    pipeline.status === 'running' ||
    pipeline.steps.some((step) => step.status === 'running' || step.status === 'retrying');
  while (unsettled() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    pipeline = await alice.pipelines.get(pipeline.id);
  }
  expect(pipeline.status, JSON.stringify(pipeline)).toBe('failed');

  // An endpoint scaled to zero: no replica, no traffic yet (the dashboard must say so, not invent figures).
  const model = join(work, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{"runtime":"aicloud-tiny"}');
  // A safetensors file with no tensors: its 8-byte header length, then the header `{}`.
  writeFileSync(
    join(model, 'model.safetensors'),
    Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]),
  );
  const registered = await alice.models.register({
    name: 'dash',
    source: `path:${model}`,
    runtime: 'aicloud-tiny',
  });
  expect(registered.scanVerdict).toBe('passed');
  await alice.endpoints.deploy({ model: 'dash', version: 1, name: 'dash', scaleToZero: true });

  browser = await launchChromium();
}, 150_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(user: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(server.url);
  await page.getByLabel('API token').fill(tokens[user]!.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
  return page;
}

async function open(page: Page, area: string): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: area }).click();
  await page.getByRole('heading', { level: 1, name: area }).waitFor();
}

const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 10_000 });

const text = (locator: Locator) => async () =>
  (await locator.count()) > 0 ? locator.first().textContent() : '';

describe('experiments and pipelines in the portal (headless Chromium)', () => {
  it("lists the team's experiments only, shows runs' params and metrics, and compares two runs on one chart", async () => {
    const page = await signIn('alice');
    await open(page, 'Experiments');
    const row = page.getByTestId('experiment-row-web-compare');
    await eventually(text(row)).toContain('legal-rag');
    expect(await page.getByTestId('experiment-row-search-secret').count()).toBe(0);
    expect(await page.getByTestId('experiments-table').textContent()).not.toContain('search-secret');

    await row.click();
    await eventually(() => page.url()).toMatch(/\/experiments\/[^/]+$/);
    const table = page.getByTestId('runs-table');
    const small = table.getByTestId('run-row-lr-small');
    const big = table.getByTestId('run-row-lr-big');
    await eventually(text(small)).toContain('finished');
    // Params and latest metrics as columns.
    const headings = await table.locator('thead th').allTextContents();
    expect(headings).toEqual(
      expect.arrayContaining(['Run', 'Status', 'Duration', 'batch_size', 'lr', 'accuracy', 'loss']),
    );
    expect(await small.locator('[data-param="lr"]').textContent()).toBe('0.001');
    expect(await big.locator('[data-param="lr"]').textContent()).toBe('0.01');
    expect(await small.locator('[data-metric="loss"]').textContent()).toBe('0.4');
    expect(await big.locator('[data-metric="loss"]').textContent()).toBe('0.2');
    expect(await big.locator('[data-metric="accuracy"]').textContent()).toBe('0.8');
    expect(await small.textContent()).toContain('1 m 15 s');

    // Compare: one path per selected run, each through the run's 5 points.
    expect(await page.getByTestId('compare-hint').count()).toBe(1);
    await small.getByRole('checkbox').check();
    await big.getByRole('checkbox').check();
    const chart = page.getByTestId('compare-chart');
    await chart.waitFor();
    const paths = chart.locator('path.line-chart-line');
    /** Where each run's line ends (its last point's SVG y: larger is lower on the chart), once the chart shows `metric`. */
    const endsOf = async (metric: string) => {
      await page.getByLabel('Metric').selectOption(metric);
      await eventually(() => chart.locator('svg').getAttribute('aria-label')).toContain(`${metric} by step`);
      await eventually(() => paths.count()).toBe(2);
      return paths.evaluateAll((all) =>
        Object.fromEntries(
          all.map((path) => {
            const d = path.getAttribute('d') ?? '';
            return [
              path.getAttribute('data-series'),
              { points: d.split(' ').length, y: Number(d.split(',').at(-1)) },
            ];
          }),
        ),
      );
    };
    const loss = await endsOf('loss');
    expect(Object.keys(loss).sort()).toEqual(['lr-big', 'lr-small']);
    expect(loss['lr-big']!.points).toBe(5);
    expect(loss['lr-small']!.points).toBe(5);
    // lr-big's loss ends lower than lr-small's; its accuracy ends higher.
    expect(loss['lr-big']!.y).toBeGreaterThan(loss['lr-small']!.y);
    const accuracy = await endsOf('accuracy');
    expect(accuracy['lr-big']!.y).toBeLessThan(accuracy['lr-small']!.y);
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'experiment-compare.png'), fullPage: true });

    // Another team's experiment at its URL: absent, as if it did not exist.
    await page.goto(`${server.url}/experiments/${carolExperimentId}`);
    await eventually(text(page.getByTestId('experiment-missing'))).toContain(
      `No experiment ${carolExperimentId}`,
    );
    await page.close();
  });

  it("draws a pipeline's DAG with each step's state and job, and the job page's GPU telemetry", async () => {
    const page = await signIn('alice');
    await open(page, 'Pipelines');
    const row = page.getByTestId('pipeline-row-web-dag');
    await eventually(text(row)).toContain('failed');
    expect(await row.textContent()).toContain('2/3 done');
    await row.click();
    const dag = page.getByTestId('pipeline-dag');
    await dag.waitFor();
    await eventually(() => dag.getByTestId('dag-step-make').getAttribute('data-status')).toBe('succeeded');
    expect(await dag.getByTestId('dag-step-use').getAttribute('data-status')).toBe('succeeded');
    expect(await dag.getByTestId('dag-step-boom').getAttribute('data-status')).toBe('failed');
    const edges = await dag
      .locator('line[data-edge]')
      .evaluateAll((all) => all.map((line) => line.getAttribute('data-edge')));
    expect(edges.sort()).toEqual(['make->boom', 'make->use']);
    // make sits left of both dependants, which share the next layer.
    const left = async (name: string) => (await dag.getByTestId(`dag-step-${name}`).boundingBox())!.x;
    expect(await left('make')).toBeLessThan(await left('use'));
    expect(await left('use')).toBe(await left('boom'));
    // A failed pipeline offers a retry, not a cancel.
    expect(await page.getByRole('button', { name: 'Retry unfinished steps' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Cancel pipeline' }).count()).toBe(0);
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'pipeline.png'), fullPage: true });

    // The step's job link opens the job page; GPU samples (what the sampler stores from nvidia-smi) chart there.
    const make = pipeline.steps.find((step) => step.name === 'make')!;
    const base = Date.now() - 60_000;
    await server.platform.store.db
      .insertInto('gpu_samples')
      .values(
        [10, 55, 90].map((utilization, index) => ({
          workload_kind: 'job',
          workload_id: make.jobId!,
          team: 'legal-rag',
          gpu_index: 0,
          gpu_uuid: 'GPU-web-test',
          gpu_name: 'NVIDIA H200',
          attributed_by: 'pid',
          utilization_percent: utilization,
          memory_used_mib: 1000 * (index + 1),
          memory_total_mib: 143_771,
          power_w: 100,
          pids: '[]',
          time: new Date(base + index * 5000).toISOString(),
        })),
      )
      .execute();
    await dag.getByTestId('dag-step-make').getByRole('link', { name: make.jobId! }).click();
    await eventually(() => page.url()).toContain(`/jobs/${make.jobId}`);
    const gpu = page.getByTestId('job-gpu');
    await eventually(text(gpu)).toContain('90 % busy');
    expect(await gpu.getByTestId('job-gpu-charts-utilization').locator('path.line-chart-line').count()).toBe(
      1,
    );
    expect(await gpu.getByTestId('job-gpu-charts-memory').locator('path.line-chart-line').count()).toBe(1);
    expect(await page.getByTestId('job-metrics').count()).toBe(1);
    await gpu.screenshot({ path: join(screenshots, 'job-gpu.png') });
    await page.close();
  });

  it("shows an endpoint's dashboard honestly before any traffic, and its replicas' GPU route to its team only", async () => {
    const page = await signIn('alice');
    await page.goto(`${server.url}/endpoints/dash`);
    const dashboard = page.getByTestId('endpoint-dashboard');
    await eventually(text(dashboard.getByTestId('stat-requests'))).toContain('0');
    expect(await dashboard.getByTestId('stat-p99').textContent()).toContain('—');
    expect(await dashboard.getByTestId('stat-tps').textContent()).toContain('—');
    expect(await dashboard.getByTestId('endpoint-drift').textContent()).toContain('collecting');
    expect(await dashboard.getByTestId('drift-features').count()).toBe(0);
    await eventually(text(dashboard.getByTestId('economics-spend'))).toContain('$0.00 over 0 metered tokens');
    expect(await dashboard.getByTestId('economics-per-1k').textContent()).toContain('n/a');
    expect(await dashboard.getByTestId('economics-per-request').textContent()).toContain('n/a');
    expect(await dashboard.getByTestId('endpoint-gpu').textContent()).toContain('CPU only');
    mkdirSync(screenshots, { recursive: true });
    await dashboard.screenshot({ path: join(screenshots, 'endpoint-dashboard.png') });
    await page.close();

    const gpu = (user: string) =>
      fetch(`${server.url}/v1/endpoints/dash/gpu`, {
        headers: { authorization: `Bearer ${tokens[user]!.token}` },
      });
    const own = await gpu('alice');
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual({ endpoint: 'dash', replicas: [] });
    expect((await gpu('carol')).status).toBe(404);
  });

  it("draws an endpoint's lineage back to the model version it serves, for its team only", async () => {
    const page = await signIn('alice');
    await page.goto(`${server.url}/endpoints/dash`);
    await page.getByRole('link', { name: 'Lineage' }).click();
    const graph = page.getByTestId('lineage-graph');
    await graph.waitFor();
    const version = graph.locator('[data-kind="model_version"]');
    const endpoint = graph.locator('[data-kind="endpoint"]');
    await eventually(() => version.count()).toBe(1);
    expect(await version.textContent()).toContain('dash@1');
    expect(await endpoint.textContent()).toContain('dash');
    // Upstream first: the version's box is left of the endpoint's, joined by one arrow from it to the endpoint.
    const left = async (box: Locator) => (await box.boundingBox())!.x;
    expect(await left(version)).toBeLessThan(await left(endpoint));
    const versionId = (await version.getAttribute('data-testid'))!.replace('lineage-node-', '');
    const endpointId = (await endpoint.getAttribute('data-testid'))!.replace('lineage-node-', '');
    expect(await graph.locator(`line[data-edge="${versionId}->${endpointId}"]`).count()).toBe(1);
    // The version's box links to its model's page.
    await version.getByRole('link').click();
    await eventually(() => page.url()).toContain('/models/legal-rag/dash');
    await page.close();

    const carol = await signIn('carol');
    await carol.goto(`${server.url}/lineage/endpoint/dash`);
    await eventually(text(carol.getByRole('alert'))).toMatch(/not found|no endpoint/i);
    expect(await carol.getByTestId('lineage-graph').count()).toBe(0);
    await carol.close();
  });
});
