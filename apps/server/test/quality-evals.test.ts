import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { routes } from '@aicloud/contracts';
import { observabilityOf, qualityOf } from '@aicloud/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/repo-paths.ts';
import { type RunningServer, startServer } from '../src/start-server.ts';
import {
  answerBookModel,
  answerBookRuntime,
  CONTRACT_QUESTIONS,
  qualityAlertRules,
  registerEvalSet,
} from './answer-book.ts';

// Quality evaluations end to end: an evaluation set registered as a dataset of the team's lake, each prompt
// sent through the endpoint's own gateway path (a fixture runtime answering from a book), scores stored per
// version, the worse version scoring lower and the quality alert firing on it; a judge endpoint grades.
let server: RunningServer;
let tokens: Record<'alice' | 'carol', { token: string }>;
let alice: Client;
let carol: Client;
let work: string;
const DATASET = 'projects/legal-rag/datasets/legal-qa-evals';
const questions = CONTRACT_QUESTIONS;

const registerDataset = (dataset: { path: string; location: string }) =>
  alice.datasets.register({ ...dataset, encrypted: false, tags: {} });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aicloud-quality-'));
  const alerts = qualityAlertRules(work);
  const good = answerBookModel(work, 'good', questions);
  // Version 2 answers one of the four right and the others wrongly.
  const worse = answerBookModel(work, 'worse', {
    'What settles disputes out of court?': 'arbitration',
    'Which clause excuses performance in a war?': 'the termination section',
    'Who signs a contract?': 'the lawyers',
    '*': 'I do not know',
  });
  const judge = answerBookModel(work, 'judge', { '*': 'Score: 8' });
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(work, 'data'),
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    importRoots: { 'legal-rag': [work] },
    sandboxReadOnly: [answerBookRuntime.fixtures],
    tickIntervalMs: 250,
    meterIntervalMs: 500,
    alertsDir: alerts,
    runtimes: answerBookRuntime.runtimes,
  });
  tokens = JSON.parse(readFileSync(join(work, 'data/credentials.json'), 'utf8'));
  alice = createClient({ url: server.url, token: tokens.alice.token });
  carol = createClient({ url: server.url, token: tokens.carol.token });
  for (const [model, folder] of [
    ['legal-answerer', good],
    ['legal-answerer', worse],
    ['legal-judge', judge],
  ] as const)
    await alice.models.register({ name: model, source: `path:${folder}`, runtime: 'answer-book' });
  await alice.endpoints.deploy({ model: 'legal-answerer', version: 1, minReplicas: 1 });
  await alice.endpoints.deploy({ model: 'legal-judge', version: 1, minReplicas: 1 });
  // The evaluation set: a JSONL file in the team's part of the lake, registered as a dataset.
  await registerEvalSet(alice, join(work, 'data'), DATASET, 'legal-qa.jsonl', questions);
}, 180_000);
afterAll(async () => {
  await alice?.endpoints.delete('legal-answerer').catch(() => {});
  await alice?.endpoints.delete('legal-judge').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await server?.stop();
});

const evaluate = (client: Client, name: string, body: { dataset: string; every?: string; judge?: string }) =>
  client.call(routes.evaluateEndpoint, { params: { name }, body });

describe('quality evaluations of an endpoint', () => {
  it('scores each version through the gateway, stores it per version, exports it and alerts on the worse one', async () => {
    const first = await evaluate(alice, 'legal-answerer', {
      dataset: DATASET,
      judge: 'legal-judge',
      every: '1h',
    });
    expect(first).toMatchObject({
      endpoint: 'legal-answerer',
      version: 1,
      samples: 4,
      failed: 0,
      exactMatch: 1,
      f1: 1,
      judgeScore: 0.8,
      trigger: 'manual',
    });

    // The prompts went through the gateway: metered to the team, with an internal key revoked since.
    const keys = await server.platform.store.db
      .selectFrom('endpoint_keys')
      .selectAll()
      .where('name', '=', 'aicloud-eval')
      .execute();
    expect(keys.length).toBe(2);
    expect(keys.every((key) => key.revoked_at !== null && key.created_by === 'system')).toBe(true);
    await server.platform.gateway.flush();
    const usage = await server.platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where(
        'project',
        'in',
        keys.map((key) => key.id),
      )
      .execute();
    expect(usage.length).toBeGreaterThan(0);
    expect(usage.every((row) => row.team === 'legal-rag')).toBe(true);

    // Version 2 replaces version 1 under the same name: it scores lower.
    await alice.endpoints.delete('legal-answerer');
    await alice.endpoints.deploy({ model: 'legal-answerer', version: 2, minReplicas: 1 });
    const second = await evaluate(alice, 'legal-answerer', { dataset: DATASET });
    expect(second.version).toBe(2);
    expect(second.exactMatch).toBe(0.25);
    expect(second.f1).toBe(0.25);
    expect(second.judgeScore).toBeNull();

    const listed = await alice.call(routes.listEndpointEvals, { params: { name: 'legal-answerer' } });
    expect(listed.items.map((item) => [item.version, item.f1])).toEqual([
      [2, second.f1],
      [1, 1],
    ]);
    expect(listed.schedule).toMatchObject({ dataset: DATASET, everySeconds: null, judge: null });

    // /metrics has the current version's latest scores; the quality rule fires on its F1.
    const metrics = await observabilityOf(server.platform).metricsText();
    expect(metrics).toContain(
      `aicloud_endpoint_quality_score{endpoint="legal-answerer",version="2",metric="exact_match"} 0.25`,
    );
    expect(metrics).not.toContain('version="1"');
    const checked = await new Promise<{ code: number; output: string }>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, output: stdout + stderr }),
      );
      child.stdin!.end(metrics);
    });
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
    const events = await observabilityOf(server.platform).alerts.evaluate();
    expect(events.map((event) => [event.rule, event.state, event.labels])).toEqual([
      [
        'endpoint_quality_low',
        'firing',
        { endpoint: 'legal-answerer', version: '2', metric: 'f1', team: 'legal-rag' },
      ],
    ]);
  });

  it('runs a schedule from the controller loop when it is due', async () => {
    await evaluate(alice, 'legal-judge', { dataset: DATASET, every: '1h' });
    const quality = qualityOf(server.platform);
    expect(await quality.tick()).toBe(0);
    await server.platform.store.db
      .updateTable('endpoint_eval_sets')
      .set({ next_run_at: new Date(Date.now() - 1000).toISOString() })
      .where('endpoint', '=', 'legal-judge')
      .execute();
    expect(await quality.tick()).toBe(1);
    const listed = await alice.call(routes.listEndpointEvals, { params: { name: 'legal-judge' } });
    expect(listed.items.map((item) => item.trigger)).toEqual(['schedule', 'manual']);
    expect(Date.parse(listed.schedule!.nextRunAt!)).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('refuses another team, a dataset of another team or outside the lake, and a bad file', async () => {
    await expect(evaluate(carol, 'legal-answerer', { dataset: DATASET })).rejects.toMatchObject({
      status: 404,
    });
    await registerDataset({
      path: 'projects/legal-rag/datasets/outside',
      location: 'file:///etc/passwd',
    });
    await expect(
      evaluate(alice, 'legal-answerer', { dataset: 'projects/legal-rag/datasets/outside' }),
    ).rejects.toMatchObject({ status: 403 });
    const bad = join(work, 'data/lake/legal-rag/evals/bad.jsonl');
    writeFileSync(bad, '{"prompt": "x"}\n');
    await registerDataset({ path: 'projects/legal-rag/datasets/bad', location: `file://${bad}` });
    await expect(
      evaluate(alice, 'legal-answerer', { dataset: 'projects/legal-rag/datasets/bad' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      evaluate(alice, 'legal-answerer', { dataset: DATASET, judge: 'nope' }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('is driven by aicloud endpoints eval and evals', async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [join(repoRoot, 'apps/cli/bin/aicloud.mjs'), ...args],
          {
            env: { ...process.env, AICLOUD_URL: server.url, AICLOUD_TOKEN: tokens.alice.token },
            timeout: 60_000,
          },
          (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
        ),
      );
    const ran = await cli(['endpoints', 'eval', 'legal-answerer', '--dataset', DATASET, '--every', '2h']);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('Evaluated legal-answerer (legal-answerer v2) on 4 samples:');
    expect(ran.stdout).toContain('exact match 0.250, F1 0.250, judge -');
    const json = await cli(['endpoints', 'evals', 'legal-answerer', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const listed = JSON.parse(json.stdout);
    expect(listed.schedule).toMatchObject({ dataset: DATASET, everySeconds: 7200 });
    expect(listed.items.map((item: { version: number }) => item.version)).toEqual([2, 2, 1]);
    const text = await cli(['endpoints', 'evals', 'legal-answerer']);
    expect(text.stdout).toContain(`Evaluation set ${DATASET}, every 2h`);
    expect(text.stdout).toMatch(/2\s+legal-answerer\s+4\s+0\s+0\.250\s+0\.250\s+-\s+manual/);
    expect(text.stdout).toMatch(/1\s+legal-answerer\s+4\s+0\s+1\.000\s+1\.000\s+0\.800\s+manual/);
  });
});
