import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { routes } from '@aicloud/contracts';
import { observabilityOf } from '@aicloud/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/repo-paths.ts';
import { type RunningServer, startServer } from '../src/start-server.ts';
import {
  answerBookModel,
  answerBookRuntime,
  CONTRACT_QUESTIONS,
  deployAnswerBook,
  ONE_IN_FOUR_ANSWERS,
  qualityAlertRules,
  registerEvalSet,
  versionTraffic,
} from './answer-book.ts';

// Canary analysis on deploy, end to end: a new version deployed onto a serving endpoint takes a share of the
// real traffic through the gateway (a fixture runtime answering from a book), is scored on the endpoint's
// evaluation set and compared with the serving version step by step; a good version is promoted in steps,
// a worse one raises the quality alert and is rolled back; each decision is kept with its figures and audited.
let server: RunningServer;
let tokens: Record<'alice' | 'carol', { token: string }>;
let alice: Client;
let carol: Client;
let work: string;
let key: string;
const NAME = 'contract-qa';
const DATASET = 'projects/legal-rag/datasets/contract-qa-evals';
const questions = CONTRACT_QUESTIONS;

/** Sends `count` chat requests with the endpoint's key; answers how many each version served. */
const traffic = (count: number) => versionTraffic(server.url, key, NAME, count);

const rollout = (client: Client) => client.call(routes.getRollout, { params: { name: NAME } });
/** The real `aicloud` command, as alice. */
const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [join(repoRoot, 'apps/cli/bin/aicloud.mjs'), ...args],
      {
        env: { ...process.env, AICLOUD_URL: server.url, AICLOUD_TOKEN: tokens.alice.token },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
/** What a deploy that sets no thresholds is judged against. */
const DEFAULT_THRESHOLDS = {
  maxErrorRateIncrease: 0.05,
  maxLatencyRatio: 1.5,
  latencyAllowanceMs: 50,
  maxQualityDrop: 0.05,
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aicloud-canary-'));
  const alerts = qualityAlertRules(work);
  const good = answerBookModel(work, 'good', questions);
  // Version 2 answers one of the four right.
  const worse = answerBookModel(work, 'worse', ONE_IN_FOUR_ANSWERS);
  // Version 3 answers as well as version 1, in other words where it may.
  const better = answerBookModel(work, 'better', { ...questions });
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(work, 'data'),
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    importRoots: { 'legal-rag': [work] },
    sandboxReadOnly: [answerBookRuntime.fixtures],
    // The test drives the rollout passes itself.
    tickIntervalMs: 3_600_000,
    meterIntervalMs: 500,
    alertsDir: alerts,
    runtimes: answerBookRuntime.runtimes,
  });
  tokens = JSON.parse(readFileSync(join(work, 'data/credentials.json'), 'utf8'));
  alice = createClient({ url: server.url, token: tokens.alice.token });
  carol = createClient({ url: server.url, token: tokens.carol.token });
  key = await deployAnswerBook(alice, NAME, [good, worse, better]);
  await registerEvalSet(alice, join(work, 'data'), DATASET, 'contract-qa.jsonl', questions);
  // The endpoint's evaluation set: every rollout scores its new version on it.
  await alice.call(routes.evaluateEndpoint, { params: { name: NAME }, body: { dataset: DATASET } });
}, 180_000);
afterAll(async () => {
  await alice?.endpoints.delete(NAME).catch(() => {});
  await sleep(1500);
  await server?.stop();
});

describe('canary analysis on deploy', () => {
  it('promotes a good version in steps, each decision with its figures, then serves it alone', async () => {
    const deployed = await alice.endpoints.deploy({
      model: NAME,
      version: 3,
      canary: 25,
      analysisWindow: '1s',
      minRequests: 5,
    });
    expect(deployed).toMatchObject({ name: NAME, version: 1 });
    expect(deployed.rollout).toMatchObject({
      status: 'progressing',
      fromVersion: 1,
      toVersion: 3,
      steps: [25, 50],
      step: 0,
      weight: 25,
      analysisWindowSeconds: 1,
      minRequests: 5,
      thresholds: DEFAULT_THRESHOLDS,
    });
    // The canary is not an endpoint of its own in lists.
    expect((await alice.endpoints.list()).items.map((endpoint) => endpoint.name)).toEqual([NAME]);

    // The first pass scores the new version on the evaluation set (through the gateway) and decides nothing.
    expect(await server.platform.rollouts.tick()).toBe(0);
    const scored = await rollout(alice);
    expect(scored.decisions).toEqual([]);
    const served = await traffic(80);
    expect(served['1']).toBeGreaterThan(30);
    expect(served['3']).toBeGreaterThanOrEqual(5);
    await sleep(1100);
    expect(await server.platform.rollouts.tick()).toBe(1);
    const advanced = await rollout(alice);
    expect(advanced).toMatchObject({ status: 'progressing', step: 1, weight: 50 });
    expect(advanced.decisions).toHaveLength(1);
    const first = advanced.decisions[0]!;
    expect(first).toMatchObject({ decision: 'advance', step: 0, weight: 25, actor: 'system' });
    expect(first.figures.canary!.requests).toBe(served['3']);
    expect(first.figures.canary!.errors).toBe(0);
    expect(first.figures.stable!.requests).toBeGreaterThanOrEqual(served['1']!);
    expect(first.figures.quality).toEqual({ metric: 'f1', canary: 1, stable: 1 });
    expect(first.figures.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(first.reason).toMatch(
      /canary requests: error rate 0% vs 0%, p99 \d+ ms vs \d+ ms, f1 1.000 vs 1.000; next 50%/,
    );

    // Too few canary requests in the second step: it waits, and says why.
    await sleep(1100);
    expect(await server.platform.rollouts.tick()).toBe(0);
    expect((await rollout(alice)).waiting).toBe('0 of 5 canary requests in this step');
    const second = await traffic(40);
    expect(second['3']).toBeGreaterThanOrEqual(5);
    expect(await server.platform.rollouts.tick()).toBe(1);
    const promoted = await rollout(alice);
    expect(promoted).toMatchObject({ status: 'promoted', weight: 0, waiting: null });
    expect(promoted.decisions.map((decision) => [decision.decision, decision.weight])).toEqual([
      ['advance', 25],
      ['promote', 50],
    ]);
    expect(promoted.endedAt).not.toBeNull();

    // The endpoint serves version 3 alone, from replicas of its own; the canary's are stopped.
    const endpoint = await alice.endpoints.get(NAME);
    expect(endpoint).toMatchObject({ version: 3, status: 'ready' });
    expect(await traffic(10)).toEqual({ '3': 10 });
    const audit = await server.platform.store.db
      .selectFrom('audit_records')
      .select(['action', 'actor'])
      .where('resource', '=', `endpoint/${NAME}`)
      .where('action', 'like', 'endpoint.rollout_%')
      .orderBy('seq')
      .execute();
    expect(audit.map((entry) => entry.action)).toEqual([
      'endpoint.rollout_started',
      'endpoint.rollout_advanced',
      'endpoint.rollout_promoted',
    ]);
  });

  it('rolls back a version whose quality drops, after the quality alert fired on it', async () => {
    await alice.endpoints.deploy({ model: NAME, version: 2, analysisWindow: '1h' });
    expect((await rollout(alice)).steps).toEqual([10, 20, 40, 80]);
    expect(await server.platform.rollouts.tick()).toBe(0);
    const scored = await rollout(alice);
    expect(scored.status).toBe('progressing');
    const evals = await alice.call(routes.listEndpointEvals, { params: { name: NAME } });
    expect(evals.items[0]).toMatchObject({ version: 2, trigger: 'rollout', f1: 0.25, endpoint: NAME });

    // The new version's score is on /metrics under the endpoint's name while it is a canary: the alert fires.
    const alerts = observabilityOf(server.platform).alerts;
    const firing = await alerts.evaluate();
    expect(firing.map((event) => [event.rule, event.state, event.labels])).toEqual([
      ['endpoint_quality_low', 'firing', { endpoint: NAME, version: '2', metric: 'f1', team: 'legal-rag' }],
    ]);

    // The next pass rolls it back at once, without waiting for the hour-long window.
    expect(await server.platform.rollouts.tick()).toBe(1);
    const rolledBack = await rollout(alice);
    expect(rolledBack).toMatchObject({ status: 'rolled_back', weight: 0, toVersion: 2, fromVersion: 3 });
    expect(rolledBack.decisions).toHaveLength(1);
    expect(rolledBack.decisions[0]).toMatchObject({ decision: 'rollback', actor: 'system' });
    expect(rolledBack.decisions[0]!.reason).toBe(
      "quality f1 0.250 is below the stable version's 1.000 less 0.050 (0.950)",
    );
    expect(rolledBack.decisions[0]!.figures.quality).toEqual({ metric: 'f1', canary: 0.25, stable: 1 });
    expect(rolledBack.decisions[0]!.figures.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(await traffic(20)).toEqual({ '3': 20 });
    expect((await alice.endpoints.get(NAME)).version).toBe(3);
    expect((await alerts.evaluate()).map((event) => event.state)).toEqual(['resolved']);
  });

  it('refuses what cannot be rolled out, and hides rollouts from other teams', async () => {
    await expect(
      alice.endpoints.deploy({ model: NAME, version: 1, name: 'fresh-name', canary: 10 }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('canary apply to a new version'),
    });
    await expect(alice.endpoints.deploy({ model: NAME, version: 3 })).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining(`endpoint ${NAME} already serves ${NAME} version 3`),
    });
    await expect(alice.call(routes.promoteRollout, { params: { name: NAME } })).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining('is rolled back, so there is nothing to promote'),
    });
    await expect(rollout(carol)).rejects.toMatchObject({ status: 404 });

    // A rollout in progress: another deploy waits for it; the user aborts it.
    await alice.endpoints.deploy({ model: NAME, version: 1, analysisWindow: '1h' });
    await expect(alice.endpoints.deploy({ model: NAME, version: 2 })).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining('is rolling out version 1; promote or abort it first'),
    });
    await expect(carol.call(routes.abortRollout, { params: { name: NAME } })).rejects.toMatchObject({
      status: 404,
    });
    const aborted = await alice.call(routes.abortRollout, { params: { name: NAME } });
    expect(aborted).toMatchObject({ status: 'aborted', toVersion: 1 });
    expect(aborted.decisions.map((decision) => [decision.decision, decision.actor])).toEqual([
      ['abort', 'alice'],
    ]);
    expect(await traffic(10)).toEqual({ '3': 10 });

    // A quality check that cannot run (its dataset is gone) rolls the canary back: it is not let through.
    const evalSet = () =>
      server.platform.store.db.updateTable('endpoint_eval_sets').where('endpoint', '=', NAME);
    await evalSet().set({ dataset: 'projects/legal-rag/datasets/gone' }).execute();
    await alice.endpoints.deploy({ model: NAME, version: 2, analysisWindow: '1h' });
    expect(await server.platform.rollouts.tick()).toBe(1);
    const unchecked = await rollout(alice);
    expect(unchecked).toMatchObject({ status: 'rolled_back', toVersion: 2 });
    expect(unchecked.decisions[0]!.reason).toBe(
      'the quality check could not run: dataset projects/legal-rag/datasets/gone is not a registered dataset of team legal-rag',
    );
    await evalSet().set({ dataset: DATASET }).execute();
  });

  it('is driven by aicloud deploy model --canary and aicloud endpoints rollout', async () => {
    const deployed = await cli([
      'deploy',
      'model',
      '--name',
      NAME,
      '--version',
      '1',
      '--canary',
      '20%',
      '--analysis-window',
      '10m',
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain(`Rolling out ${NAME} version 1 onto ${NAME} (serving version 3)`);
    expect(deployed.stdout).toContain('20% → 40% → 80% → promote');
    const status = await cli(['endpoints', 'rollout', 'status', NAME]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('progressing');
    expect(status.stdout).toContain('20% of traffic');
    const json = await cli(['endpoints', 'rollout', 'status', NAME, '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'progressing', toVersion: 1, weight: 20 });
    const promoted = await cli(['endpoints', 'rollout', 'promote', NAME]);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).toContain(`Promoted ${NAME} to version 1`);
    expect((await alice.endpoints.get(NAME)).version).toBe(1);
    const again = await cli(['endpoints', 'rollout', 'abort', NAME]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('is promoted, so there is nothing to abort');
  });

  it('refuses thresholds out of range, and on a deploy that starts no rollout', async () => {
    const refused = (changes: Record<string, unknown>) =>
      alice.endpoints.deploy({ model: NAME, version: 2, ...changes });
    await expect(refused({ maxLatencyRatio: 0.5 })).rejects.toMatchObject({
      status: 400,
      message:
        "invalid request: maxLatencyRatio: 0.5 is out of range: must be from 1 to 100 (1.5: the canary's p99 may be 1.5x the serving version's)",
    });
    await expect(refused({ maxQualityDrop: 1.5 })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining(
        'maxQualityDrop: 1.5 is out of range: must be a score drop from 0 to 1',
      ),
    });
    await expect(refused({ maxErrorRateIncrease: 5 })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining(
        'maxErrorRateIncrease: 5 is out of range: must be a fraction from 0 to 1 (0.05 = 5 points',
      ),
    });
    await expect(refused({ latencyAllowanceMs: 12.5 })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('latencyAllowanceMs: 12.5 is not whole: must be whole milliseconds'),
    });
    await expect(refused({ canarySteps: [40, 20] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('canarySteps: [40,20] does not rise'),
    });
    await expect(refused({ canary: 10, canarySteps: [10, 50] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('give canary (the first share, doubling each step) or canarySteps'),
    });
    // A first deploy is never a canary: its thresholds are refused like --canary is.
    await expect(
      refused({ version: 1, name: 'fresh-name', maxQualityDrop: 0.8, maxLatencyRatio: 2 }),
    ).rejects.toMatchObject({
      status: 400,
      message:
        'maxLatencyRatio, maxQualityDrop apply to a new version deployed onto an endpoint that serves one; fresh-name does not exist yet, so deploy without them first',
    });
    // Nothing was started by any of them.
    expect((await rollout(alice)).status).toBe('promoted');
  });

  it("judges by the deploy's own thresholds: a loose quality limit promotes the version the default rolls back", async () => {
    // Version 2 (F1 0.25 against the serving version's 1.0) was rolled back above under the default 0.05.
    const deployed = await alice.endpoints.deploy({
      model: NAME,
      version: 2,
      canarySteps: [50],
      analysisWindow: '1s',
      minRequests: 5,
      maxQualityDrop: 0.8,
      maxErrorRateIncrease: 0.1,
      maxLatencyRatio: 4,
      latencyAllowanceMs: 500,
    });
    const thresholds = {
      maxErrorRateIncrease: 0.1,
      maxLatencyRatio: 4,
      latencyAllowanceMs: 500,
      maxQualityDrop: 0.8,
    };
    expect(deployed.rollout).toMatchObject({ status: 'progressing', steps: [50], weight: 50, thresholds });
    expect((await rollout(alice)).thresholds).toEqual(thresholds);
    expect(await server.platform.rollouts.tick()).toBe(0);
    const served = await traffic(40);
    expect(served['2']).toBeGreaterThanOrEqual(5);
    await sleep(1100);
    expect(await server.platform.rollouts.tick()).toBe(1);
    const promoted = await rollout(alice);
    expect(promoted).toMatchObject({ status: 'promoted', toVersion: 2, thresholds });
    expect(promoted.decisions).toHaveLength(1);
    const decision = promoted.decisions[0]!;
    expect(decision).toMatchObject({ decision: 'promote', step: 0, weight: 50, actor: 'system' });
    expect(decision.figures.quality).toEqual({ metric: 'f1', canary: 0.25, stable: 1 });
    expect(decision.figures.thresholds).toEqual(thresholds);
    expect(decision.reason).toContain('f1 0.250 vs 1.000');
    expect((await alice.endpoints.get(NAME)).version).toBe(2);
  });

  it('takes the thresholds and steps as aicloud deploy model flags, and shows them in rollout status', async () => {
    const deployed = await cli([
      'deploy',
      'model',
      '--name',
      NAME,
      '--version',
      '1',
      '--canary-steps',
      '25,50',
      '--analysis-window',
      '1h',
      '--max-error-rate-increase',
      '2.5',
      '--max-latency-ratio',
      '2',
      '--latency-allowance',
      '20ms',
      '--max-quality-drop',
      '0.1',
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain(
      `Rolling out ${NAME} version 1 onto ${NAME} (serving version 2): 25% → 50% → promote.`,
    );
    expect(deployed.stdout).toContain(
      'error rate at most +2.5 points, p99 at most 2x + 20 ms, quality at most -0.100 on the evaluation set',
    );
    const status = await cli(['endpoints', 'rollout', 'status', NAME]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(
      '  thresholds   error rate at most +2.5 points, p99 at most 2x + 20 ms, quality at most -0.100 (vs the serving version)',
    );
    expect(status.stdout).toContain('25% → 50% → promote, 1h each');
    const json = await cli(['endpoints', 'rollout', 'status', NAME, '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 'progressing',
      steps: [25, 50],
      thresholds: {
        maxErrorRateIncrease: 0.025,
        maxLatencyRatio: 2,
        latencyAllowanceMs: 20,
        maxQualityDrop: 0.1,
      },
    });
    const aborted = await cli(['endpoints', 'rollout', 'abort', NAME]);
    expect(aborted.code, aborted.stderr).toBe(0);

    // Out of range, the flag is refused before anything is sent; on a first deploy, the server refuses it.
    const ratio = await cli([
      'deploy',
      'model',
      '--name',
      NAME,
      '--version',
      '1',
      '--max-latency-ratio',
      '0.5',
    ]);
    expect(ratio.code).not.toBe(0);
    expect(ratio.stderr).toContain(
      "option '--max-latency-ratio <ratio>' argument '0.5' is invalid. a ratio from 1 to 100",
    );
    const points = await cli([
      'deploy',
      'model',
      '--name',
      NAME,
      '--version',
      '1',
      '--max-error-rate-increase',
      '150',
    ]);
    expect(points.code).not.toBe(0);
    expect(points.stderr).toContain('percentage points from 0 to 100');
    const fresh = await cli([
      'deploy',
      'model',
      '--name',
      NAME,
      '--version',
      '1',
      '--endpoint',
      'fresh-name',
      '--max-quality-drop',
      '0.2',
    ]);
    expect(fresh.code).not.toBe(0);
    expect(fresh.stderr).toContain(
      'maxQualityDrop apply to a new version deployed onto an endpoint that serves one',
    );
    expect((await rollout(alice)).status).toBe('aborted');
  });
});
