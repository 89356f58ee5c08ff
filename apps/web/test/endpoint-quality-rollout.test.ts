import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { type EndpointEval, routes } from '@aicloud/contracts';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The server tests' fixture runtime (a model that answers from a book), so each version's scores are known.
import {
  answerBookModel,
  answerBookRuntime,
  CONTRACT_QUESTIONS,
  deployAnswerBook,
  ONE_IN_FOUR_ANSWERS,
  registerEvalSet,
  versionTraffic,
} from '../../server/test/answer-book.ts';
import { launchChromium } from './browser.ts';

// The endpoint page's quality and canary panels against a real platform: version 1 answers the evaluation set
// right, version 2 (rolled out as a canary) one prompt in four; the page charts both versions' scores from
// `GET /v1/endpoints/:name/evals`, shows the rollout from `GET /v1/endpoints/:name/rollout`, and aborts it.
let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;
let alice: Client;
let work: string;
let key: string;
const NAME = 'contract-qa';
const DATASET = 'projects/legal-rag/datasets/contract-qa-evals';
const questions = CONTRACT_QUESTIONS;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aicloud-quality-web-'));
  const good = answerBookModel(work, 'good', questions);
  // Version 2 answers one of the four right: F1 and exact match 0.25.
  const worse = answerBookModel(work, 'worse', ONE_IN_FOUR_ANSWERS);
  const dataDir = join(work, 'data');
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(import.meta.dirname, '../../../seed/demo.yaml'),
    webRoot,
    importRoots: { 'legal-rag': [work] },
    sandboxReadOnly: [answerBookRuntime.fixtures],
    // The test drives the rollout passes itself, so the canary stays at its first step until it is aborted.
    tickIntervalMs: 3_600_000,
    meterIntervalMs: 500,
    alertsDir: null,
    runtimes: answerBookRuntime.runtimes,
  });
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  alice = createClient({ url: server.url, token: tokens.alice!.token });
  key = await deployAnswerBook(alice, NAME, [good, worse]);
  await registerEvalSet(alice, dataDir, DATASET, 'contract-qa.jsonl', questions);
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await alice?.endpoints.delete(NAME).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await server?.stop();
});

/** Sends `count` chat requests with the endpoint's key; answers how many each version served. */
const traffic = (count: number) => versionTraffic(server.url, key, NAME, count);

async function signIn(user: string, width = 1400): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 1000 } });
  await page.goto(server.url);
  await page.getByLabel('API token').fill(tokens[user]!.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
  return page;
}

const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 20_000 });

const text = (locator: Locator) => async () =>
  (await locator.count()) > 0 ? locator.first().textContent() : '';

/** The SVG y of the chart's grid line labelled `label` (a y-axis tick). */
async function gridY(chart: Locator, label: string): Promise<number> {
  const ticks = await chart
    .locator('g.line-chart-grid')
    .evaluateAll((all) =>
      all.map((tick) => [
        tick.querySelector('text')?.textContent,
        tick.querySelector('line')?.getAttribute('y1'),
      ]),
    );
  const matching = ticks.filter(([text]) => text === label);
  expect(matching).toHaveLength(1);
  return Number(matching[0]![1]);
}

describe("an endpoint's quality runs and canary rollout in the portal (headless Chromium)", () => {
  it('says there is no evaluation set and no rollout before either exists', async () => {
    const page = await signIn('alice');
    await page.goto(`${server.url}/endpoints/${NAME}`);
    await eventually(text(page.getByTestId('quality-empty'))).toBe(
      `No evaluation set: run aicloud endpoints eval ${NAME} --dataset …`,
    );
    expect(await page.getByTestId('quality-chart').count()).toBe(0);
    await eventually(text(page.getByTestId('rollout-none'))).toContain('No rollout yet');
    expect(await page.getByTestId('endpoint-rollout').getByRole('alert').count()).toBe(0);
    await page.close();
  });

  it("charts each version's scores, lists the runs, shows the canary's weight and step, and aborts it", async () => {
    const evaluate = () =>
      alice.call(routes.evaluateEndpoint, { params: { name: NAME }, body: { dataset: DATASET } });
    expect(await evaluate()).toMatchObject({ version: 1, f1: 1, exactMatch: 1, trigger: 'manual' });
    expect(await evaluate()).toMatchObject({ version: 1, f1: 1, exactMatch: 1, trigger: 'manual' });
    const deployed = await alice.endpoints.deploy({ model: NAME, version: 2, analysisWindow: '1h' });
    expect(deployed.rollout).toMatchObject({ status: 'progressing', steps: [10, 20, 40, 80], weight: 10 });
    // The rollout's first pass scores version 2 on the evaluation set and decides nothing.
    expect(await server.platform.rollouts.tick()).toBe(0);
    const runs: EndpointEval[] = (await alice.call(routes.listEndpointEvals, { params: { name: NAME } }))
      .items;
    expect(runs.map((run) => [run.version, run.trigger, run.f1, run.exactMatch])).toEqual([
      [2, 'rollout', 0.25, 0.25],
      [1, 'manual', 1, 1],
      [1, 'manual', 1, 1],
    ]);
    const served = await traffic(40);
    expect(served['1']).toBeGreaterThan(0);

    const page = await signIn('alice');
    await page.goto(`${server.url}/endpoints/${NAME}`);
    const quality = page.getByTestId('endpoint-quality');
    const chart = quality.getByTestId('quality-chart');
    await chart.locator('svg').waitFor();
    expect(await quality.getByTestId('quality-schedule').textContent()).toContain(DATASET);

    // One line per measured metric (no judge here), through the three runs.
    const lines = chart.locator('path.line-chart-line');
    expect(await lines.evaluateAll((all) => all.map((path) => path.getAttribute('data-series')))).toEqual([
      'exact_match',
      'f1',
    ]);
    for (const path of await lines.all()) expect((await path.getAttribute('d'))!.split(' ')).toHaveLength(3);

    // Each run a dot, coloured and labelled by its version, at its score on the y axis.
    const top = await gridY(chart, '1');
    const quarter = await gridY(chart, '0.25');
    for (const metric of ['exact_match', 'f1']) {
      const dots = await chart
        .locator(`circle.line-chart-point[data-series="${metric}"]`)
        .evaluateAll((all) =>
          all.map((dot) => ({
            label: dot.getAttribute('data-label') ?? '',
            fill: dot.getAttribute('fill'),
            x: Number(dot.getAttribute('cx')),
            y: Number(dot.getAttribute('cy')),
          })),
        );
      expect(dots.map((dot) => dot.label.split(' · ').slice(0, 2).join(' '))).toEqual([
        `v1 ${metric} 1.000`,
        `v1 ${metric} 1.000`,
        `v2 ${metric} 0.250`,
      ]);
      const [first, second, canary] = dots as [(typeof dots)[0], (typeof dots)[0], (typeof dots)[0]];
      expect(first.fill).toBe(second.fill);
      expect(canary.fill).not.toBe(first.fill);
      expect(canary.x).toBeGreaterThan(second.x);
      expect(second.x).toBeGreaterThan(first.x);
      expect(Math.abs(first.y - top)).toBeLessThan(0.5);
      expect(Math.abs(second.y - top)).toBeLessThan(0.5);
      expect(Math.abs(canary.y - quarter)).toBeLessThan(0.5);
      expect(canary.label).toContain('rollout');
    }
    const legend = quality.getByTestId('quality-versions');
    expect(await legend.locator('[data-version="1"]').textContent()).toBe('version 1 (2 runs)');
    expect(await legend.locator('[data-version="2"]').textContent()).toBe('version 2 (1 run)');

    // The runs table, newest first.
    const rows = quality.getByTestId('quality-runs').locator('tbody tr');
    expect(await rows.evaluateAll((all) => all.map((row) => row.getAttribute('data-testid')))).toEqual(
      runs.map((run) => `eval-row-${run.id}`),
    );
    const cells = await rows.evaluateAll((all) =>
      all.map((row) => [...row.querySelectorAll('td')].slice(1).map((cell) => cell.textContent?.trim())),
    );
    expect(cells).toEqual([
      ['v2', 'rollout', '4', '0.250', '0.250', '—'],
      ['v1', 'manual', '4', '1.000', '1.000', '—'],
      ['v1', 'manual', '4', '1.000', '1.000', '—'],
    ]);

    // The canary: its versions, weight, step and thresholds; no decision yet.
    const panel = page.getByTestId('endpoint-rollout');
    await eventually(() => panel.getByTestId('rollout-state').getAttribute('data-status')).toBe(
      'progressing',
    );
    expect(await panel.getByTestId('rollout-canary').textContent()).toBe(`${NAME}@2`);
    expect(await panel.getByTestId('rollout-serving').textContent()).toBe(`${NAME}@1`);
    expect(await panel.getByTestId('rollout-weight').textContent()).toBe('10% of requests to the canary');
    expect(await panel.getByTestId('rollout-step').textContent()).toBe(
      '1 of 4: 10% → 20% → 40% → 80% → promote',
    );
    expect(await panel.getByTestId('rollout-step').locator('strong').textContent()).toBe('10%');
    expect(await panel.getByTestId('rollout-thresholds').textContent()).toBe(
      'against the serving version: error rate at most +5.0 points, p99 at most 1.5× + 50 ms, quality at most −0.050',
    );
    expect(await panel.getByTestId('rollout-decisions').count()).toBe(0);
    await page.screenshot({ path: join(work, 'endpoint-quality-rollout.png'), fullPage: true });

    // On a phone both panels fit the window: no sideways scrolling of the page.
    const phone = await signIn('alice', 390);
    await phone.goto(`${server.url}/endpoints/${NAME}`);
    await phone.getByTestId('quality-chart').locator('svg').waitFor();
    await phone.getByTestId('rollout-state').waitFor();
    expect(
      await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    ).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: join(work, 'endpoint-quality-rollout-phone.png'), fullPage: true });
    await phone.close();

    // Abort, after the confirm step: the rollout ends, its decision kept with both versions' figures.
    await panel.getByRole('button', { name: 'Abort' }).click();
    const confirm = panel.getByTestId('rollout-confirm');
    expect(await confirm.textContent()).toContain('Abort the rollout? Every request goes back to version 1');
    expect((await alice.endpoints.rollout(NAME)).status).toBe('progressing');
    await confirm.getByRole('button', { name: 'Yes, abort' }).click();
    await eventually(() => panel.getByTestId('rollout-state').getAttribute('data-status')).toBe('aborted');
    expect(await panel.getByRole('button', { name: 'Abort' }).count()).toBe(0);
    expect(await panel.getByRole('button', { name: 'Promote now' }).count()).toBe(0);
    expect(await panel.getByTestId('rollout-weight').textContent()).toBe('0%: the rollout has ended');
    const aborted = await alice.endpoints.rollout(NAME);
    expect(aborted).toMatchObject({ status: 'aborted', weight: 0 });
    const decision = aborted.decisions[0]!;
    expect(decision).toMatchObject({ decision: 'abort', actor: 'alice', reason: 'aborted by alice' });
    expect(decision.figures.canary!.requests).toBe(served['2'] ?? 0);
    const row = panel.getByTestId('rollout-decision-0');
    await eventually(() => row.getAttribute('data-decision')).toBe('abort');
    expect(await panel.locator('[data-testid^="rollout-decision-"]').count()).toBe(1);
    expect(await row.textContent()).toContain('aborted by alice');
    expect(await row.locator('td').nth(1).textContent()).toBe('1 (10%)');
    expect(await row.locator('td').nth(3).textContent()).toBe('alice');
    expect(await row.locator('[data-side="canary"]').textContent()).toMatch(
      new RegExp(`^${decision.figures.canary!.requests} req · ${decision.figures.canary!.errors} err `),
    );
    expect(await row.locator('[data-side="stable"]').textContent()).toMatch(
      new RegExp(`^${decision.figures.stable!.requests} req · 0 err \\(0\\.0 %\\) · p99 \\d+ ms$`),
    );
    expect(decision.figures.stable!.requests).toBeGreaterThanOrEqual(served['1']!);
    expect(await traffic(5)).toEqual({ '1': 5 });
    await page.close();
  });

  it("shows the API's refusal when the rollout ended before the promote arrived", async () => {
    // This rollout sets thresholds and steps of its own: the panel shows them as set.
    await alice.endpoints.deploy({
      model: NAME,
      version: 2,
      analysisWindow: '1h',
      canarySteps: [5, 50],
      maxErrorRateIncrease: 0.125,
      maxLatencyRatio: 2.25,
      latencyAllowanceMs: 0,
      maxQualityDrop: 0.8,
    });
    const page = await signIn('alice');
    await page.goto(`${server.url}/endpoints/${NAME}`);
    const panel = page.getByTestId('endpoint-rollout');
    await eventually(() => panel.getByTestId('rollout-state').getAttribute('data-status')).toBe(
      'progressing',
    );
    expect(await panel.getByTestId('rollout-thresholds').textContent()).toBe(
      'against the serving version: error rate at most +12.5 points, p99 at most 2.25× + 0 ms, quality at most −0.800',
    );
    expect(await panel.getByTestId('rollout-step').textContent()).toBe('1 of 2: 5% → 50% → promote');
    expect(await panel.getByTestId('rollout-decisions').count()).toBe(0);
    // Someone else aborts it while this promote is on its way: the real server refuses the promote.
    await page.route(`**/v1/endpoints/${NAME}/rollout/promote`, async (route) => {
      await alice.endpoints.abort(NAME);
      await route.continue();
    });
    await panel.getByRole('button', { name: 'Promote now' }).click();
    expect(await panel.getByTestId('rollout-confirm').textContent()).toContain('Promote version 2 now');
    await panel.getByRole('button', { name: 'Yes, promote' }).click();
    await eventually(text(panel.getByTestId('rollout-refused'))).toBe(
      `the rollout of ${NAME} to version 2 is aborted, so there is nothing to promote`,
    );
    // It reads the rollout again: aborted, by alice, and the endpoint still serves version 1.
    await eventually(() => panel.getByTestId('rollout-state').getAttribute('data-status')).toBe('aborted');
    expect(await panel.getByTestId('rollout-decision-0').getAttribute('data-decision')).toBe('abort');
    expect((await alice.endpoints.get(NAME)).version).toBe(1);
    await page.close();
  });

  it("hides the endpoint's quality runs and rollout from another team", async () => {
    const carol = await signIn('carol');
    await carol.goto(`${server.url}/endpoints/${NAME}`);
    await eventually(text(carol.getByRole('alert'))).toContain(`endpoint '${NAME}' not found`);
    expect(await carol.getByTestId('endpoint-quality').count()).toBe(0);
    expect(await carol.getByTestId('endpoint-rollout').count()).toBe(0);
    await carol.close();
    const as = (user: string, method: string, path: string) =>
      fetch(`${server.url}/v1/endpoints/${NAME}${path}`, {
        method,
        headers: { authorization: `Bearer ${tokens[user]!.token}` },
      });
    for (const [method, path] of [
      ['GET', '/evals'],
      ['GET', '/rollout'],
      ['POST', '/rollout/abort'],
    ] as const) {
      expect((await as('alice', method, path)).status).not.toBe(404);
      expect((await as('carol', method, path)).status).toBe(404);
    }
  });
});
