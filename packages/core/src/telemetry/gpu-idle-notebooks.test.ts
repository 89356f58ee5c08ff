import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CedarAuthorizer, createCedarAuthorizer, defaultPoliciesDir } from '@aicloud/policy';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { JUPYTER_BINARY } from '../notebooks/notebook-service.ts';
import type { PolicyRequest } from '../ports/authorizer.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { createObservability, type Observability } from './observability.ts';

/**
 * Idle GPU notebooks stopped early by policy, end to end: a fake `nvidia-smi` first on PATH prints the H200
 * captures of the sampler's own commands (idle, or under a PyTorch load), the platform's observability samples
 * through its real spawn path, real Jupyter servers hold GPU 0 as notebooks, and Cedar decides over a copy of
 * the repository's policies that each test edits. The clock is the test's, so an hour passes at once.
 */
const fixtures = join(import.meta.dirname, 'fixtures/gpu-h200');
const capture = (name: string) => readFileSync(join(fixtures, name), 'utf8');
const IDLE = { query: capture('sampler_query_idle.csv'), apps: capture('sampler_apps_idle.csv') };
const BUSY = { query: capture('sampler_query_load.csv'), apps: capture('sampler_apps_load.csv') };

/** A GPU notebook product for tests: one A100 (the seed declares them), egress allowed, long lifetime. */
const gpuProduct = {
  name: 'notebook-gpu-open',
  kind: 'notebook',
  description: 'test GPU notebook',
  gpu: { types: ['A100'], min: 1, max: 1 },
  cpus: 1,
  memoryGiB: 1,
  maxDuration: '12h',
  idleDuration: '1h',
  egress: 'allowed',
  spotPolicy: 'on-demand',
  graceSeconds: 5,
  prices: { A100: { onDemand: 3.67, spot: 1.47 }, cpu: { onDemand: 0.19, spot: 0.08 } },
  executor: 'local',
};

const IDLE_ACTION = 'stop_idle_gpu_notebook';
let bin: string;
let savedPath: string | undefined;
let now = Date.parse('2026-12-04T18:41:21Z');
const clock = { now: () => now };

function showGpu(state: { query: string; apps: string }): void {
  writeFileSync(join(bin, 'gpu.csv'), state.query);
  writeFileSync(join(bin, 'apps.csv'), state.apps);
}

/** Pids whose command line names this notebook's Jupyter (its base URL). */
function jupyterPids(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (args.includes(`--NotebookApp.base_url=/notebooks/${id}/`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

beforeAll(() => {
  if (!existsSync(JUPYTER_BINARY))
    throw new Error(
      `Jupyter is missing (${JUPYTER_BINARY}): run \`npm test\` as root or \`sudo apt-get install jupyter-notebook\``,
    );
  bin = mkdtempSync(join(tmpdir(), 'aicloud-fake-smi-'));
  writeFileSync(
    join(bin, 'nvidia-smi'),
    `#!/bin/sh\ncase "$1" in\n  --query-gpu=*) cat "${bin}/gpu.csv" ;;\n  --query-compute-apps=*) cat "${bin}/apps.csv" ;;\n  *) exit 2 ;;\nesac\n`,
  );
  chmodSync(join(bin, 'nvidia-smi'), 0o755);
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${process.env.PATH}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  if (bin) rmSync(bin, { recursive: true, force: true });
});

const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('idle GPU notebooks stopped by policy on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let observability: Observability;
  let policiesDir: string;
  let cedar: CedarAuthorizer;
  /** Every idle-stop question Cedar was asked. */
  const asked: PolicyRequest[] = [];
  let alice: Actor;

  beforeAll(async () => {
    now = Date.parse('2026-12-04T18:41:21Z');
    policiesDir = mkdtempSync(join(tmpdir(), 'aicloud-idle-policies-'));
    cpSync(defaultPoliciesDir, policiesDir, { recursive: true });
    cedar = createCedarAuthorizer({ policiesDir });
    const authorizer = {
      get digest() {
        return cedar.digest;
      },
      policies: () => cedar.policies(),
      authorize(request: PolicyRequest) {
        if (request.action === IDLE_ACTION) asked.push(request);
        return cedar.authorize(request);
      },
    };
    platform = await createTestPlatform(target, pgUrl, { clock, authorizer });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    const actorFor = async (user: string): Promise<Actor> => ({
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    });
    alice = await actorFor('alice');
    await platform.catalog.put(await actorFor('admin'), gpuProduct);
    // The server's observability with its defaults: idle after 30 minutes under 5 %.
    observability = createObservability(platform, { clock });
  });
  afterAll(async () => {
    await observability?.stop();
    await platform?.notebooks.stopAll('test teardown');
    await platform?.dispose();
    if (policiesDir) rmSync(policiesDir, { recursive: true, force: true });
  });

  const sample = async (state: { query: string; apps: string }, stepMs: number) => {
    showGpu(state);
    now += stepMs;
    expect(await observability.gpu.sample()).not.toBeNull();
  };
  /** One busy sample, then idle samples a minute apart until the idle period is `minutes` long. */
  const busyThenIdleFor = async (minutes: number) => {
    await sample(BUSY, 5000);
    await idleFor(minutes, true);
  };
  /** Idle samples a minute apart: `minutes` more (the first sample opens the period when `opening`). */
  const idleFor = async (minutes: number, opening = false) => {
    if (opening) await sample(IDLE, 5000);
    for (let minute = 0; minute < minutes; minute += 1) await sample(IDLE, 60_000);
  };
  const statusOf = async (id: string) => (await platform.notebooks.get(alice, id)).status;
  /** Waits (real time) until the notebook's end is recorded, nudging the clock so the executor's grace passes. */
  const ended = async (id: string) => {
    for (let tries = 0; tries < 150 && ['stopping', 'running'].includes(await statusOf(id)); tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      now += 1000;
    }
    await platform.notebooks.idle();
    return platform.notebooks.get(alice, id);
  };
  const records = async (id: string) =>
    platform.store.db
      .selectFrom('audit_records')
      .select(['action', 'actor', 'outcome', 'details'])
      .where('resource', '=', `notebook/${id}`)
      .orderBy('seq')
      .execute();
  const idleStops = async (id: string) =>
    (await records(id))
      .filter((record) => record.action === 'notebook.gpu_idle_stop')
      .map((record) => ({ ...record, details: JSON.parse(record.details) as Record<string, unknown> }));
  const startGpuNotebook = async (name: string) => {
    const notebook = await platform.notebooks.create(alice, { product: gpuProduct.name, name });
    expect(notebook).toMatchObject({ status: 'running', gpus: 1, gpuIndexes: [0] });
    expect(jupyterPids(notebook.id).length).toBeGreaterThan(0);
    return notebook;
  };

  it('keeps a notebook idle 45 minutes, restarts the count when the GPU is used, and stops it at 60 through the normal stop path', async () => {
    const notebook = await startGpuNotebook('idle-gpu');
    asked.length = 0;

    // Reported at 30 minutes (gpu.idle), asked once a minute from then on; at 45 minutes it keeps running.
    await busyThenIdleFor(45);
    expect(await statusOf(notebook.id)).toBe('running');
    expect(asked.map((request) => request.context.idleMinutes)).toEqual(
      Array.from({ length: 16 }, (_, index) => 30 + index),
    );
    expect(asked[0]).toMatchObject({
      principal: { name: 'system', platformAdmin: false, teams: [] },
      action: IDLE_ACTION,
      resource: {
        type: 'Notebook',
        id: notebook.id,
        attrs: { team: 'legal-rag', product: gpuProduct.name, gpus: 1 },
      },
      context: { idleMinutes: 30, gpus: 1, utilizationPercent: 0, thresholdPercent: 5 },
    });
    // Samples every 5 s within the same idle minute do not ask again.
    for (let tick = 0; tick < 11; tick += 1) await sample(IDLE, 5000);
    expect(asked).toHaveLength(16);
    expect(await idleStops(notebook.id)).toEqual([]);

    // Busy again: a new period. 45 more idle minutes (90 since the first idle sample) keep it running.
    await busyThenIdleFor(45);
    expect(await statusOf(notebook.id)).toBe('running');
    expect(await idleStops(notebook.id)).toEqual([]);

    // 60 minutes into this period the default policy permits the stop.
    await idleFor(15);
    const stopped = await ended(notebook.id);
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'idle_gpu' });
    expect(stopped.stopMessage).toBe(
      'stopped after its GPU stayed under 5 % for 60 min (policy notebook-idle-gpu-stop); files are kept',
    );
    const actions = (await records(notebook.id)).map(
      (record) => `${record.action}:${record.actor}:${record.outcome}`,
    );
    expect(actions).toEqual([
      'notebook.created:alice:success',
      'notebook.started:system:success',
      'gpu.idle:system:warn',
      'gpu.idle:system:warn',
      'notebook.gpu_idle_stop:system:success',
      'notebook.stopped:system:success',
    ]);
    const [stop] = await idleStops(notebook.id);
    expect(stop!.details).toMatchObject({
      reason: 'idle_gpu',
      idleMinutes: 60,
      gpus: [0],
      utilizationPercent: 0,
      thresholdPercent: 5,
      policies: ['notebook-idle-gpu-stop'],
      policySetDigest: cedar.digest,
    });
    // The Jupyter server is gone, and metering ended with the stop: the ledger holds exactly its cost.
    expect(jupyterPids(notebook.id)).toEqual([]);
    const row = await platform.store.db
      .selectFrom('notebooks')
      .selectAll()
      .where('id', '=', notebook.id)
      .executeTakeFirstOrThrow();
    expect(row.cost_micros).toBeGreaterThan(0);
    expect(row.metered_until).toBe(row.stopped_at);
    const ledger = await platform.store.db
      .selectFrom('usage_ledger')
      .select('cost_micros')
      .where('source_id', '=', notebook.id)
      .execute();
    expect(ledger.reduce((sum, entry) => sum + entry.cost_micros, 0)).toBe(row.cost_micros);
    // Stopped: no longer a holder of the GPU, so nothing more is asked.
    const askedBefore = asked.length;
    await idleFor(3);
    expect(asked).toHaveLength(askedBefore);
  }, 180_000);

  it('follows the Cedar files: a forbid for the team keeps it running (audited once), a new minute count stops it later', async () => {
    writeFileSync(
      join(policiesDir, 'keep-legal-notebooks.cedar'),
      [
        '@id("legal-rag-keeps-idle-notebooks")',
        '@reason("legal-rag runs long experiments in notebooks; its idle GPU notebooks are not stopped early.")',
        '@outcome("deny")',
        '@enforcement("deny")',
        'forbid (principal, action == Action::"stop_idle_gpu_notebook", resource)',
        'when { resource.team == "legal-rag" };',
        '',
      ].join('\n'),
    );
    expect(cedar.reload()).toMatchObject({ ok: true });
    const notebook = await startGpuNotebook('kept-by-team');
    asked.length = 0;
    await busyThenIdleFor(75);
    expect(asked).toHaveLength(46);
    expect(await statusOf(notebook.id)).toBe('running');
    const refusals = await idleStops(notebook.id);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({
      actor: 'system',
      outcome: 'deny',
      details: { kept: true, idleMinutes: 30, determining: ['legal-rag-keeps-idle-notebooks'], errors: [] },
    });

    // The team's exception removed and the rule changed to 90 minutes: kept at 89, stopped at 90.
    rmSync(join(policiesDir, 'keep-legal-notebooks.cedar'));
    const rules = join(policiesDir, 'notebooks.cedar');
    const text = readFileSync(rules, 'utf8');
    expect(text).toContain('context.idleMinutes >= 60');
    writeFileSync(rules, text.replace('context.idleMinutes >= 60', 'context.idleMinutes >= 90'));
    expect(cedar.reload()).toMatchObject({ ok: true });
    await idleFor(14);
    expect(await statusOf(notebook.id)).toBe('running');
    await idleFor(1);
    const stopped = await ended(notebook.id);
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'idle_gpu' });
    expect(stopped.stopMessage).toMatch(/for 90 min \(policy notebook-idle-gpu-stop\)/);
    expect((await idleStops(notebook.id)).map((record) => record.outcome)).toEqual(['deny', 'success']);
    expect(jupyterPids(notebook.id)).toEqual([]);
    writeFileSync(rules, text);
    expect(cedar.reload()).toMatchObject({ ok: true });
  }, 180_000);

  it('fails safe when a policy cannot be evaluated: keeps the notebook and audits the error once', async () => {
    // Valid Cedar that overflows when evaluated: every request for the action fails in the engine.
    writeFileSync(
      join(policiesDir, 'broken-idle.cedar'),
      [
        '@id("broken-idle-rule")',
        '@reason("A rule that overflows.")',
        'permit (principal, action == Action::"stop_idle_gpu_notebook", resource)',
        'when { context.idleMinutes * 9007199254740991 * 9007199254740991 > 0 };',
        '',
      ].join('\n'),
    );
    expect(cedar.reload()).toMatchObject({ ok: true });
    const notebook = await startGpuNotebook('policy-error');
    asked.length = 0;
    await busyThenIdleFor(65);
    expect(asked).toHaveLength(36);
    expect(await statusOf(notebook.id)).toBe('running');
    const failures = await idleStops(notebook.id);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      outcome: 'failure',
      details: { kept: true, determining: ['engine-error'] },
    });
    expect((failures[0]!.details.errors as string[])[0]).toMatch(/broken-idle-rule.*overflow/);
    expect(jupyterPids(notebook.id).length).toBeGreaterThan(0);
    rmSync(join(policiesDir, 'broken-idle.cedar'));
    expect(cedar.reload()).toMatchObject({ ok: true });
    expect(await platform.notebooks.stop(alice, notebook.id)).toMatchObject({
      status: 'stopped',
      stopReason: 'user',
    });
  }, 180_000);
});
