import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, createClient } from '@aicloud/client';
import type { Bill } from '@aicloud/contracts';
import { appendUsage, type UsageEntry } from '@aicloud/core';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';

const screenshots = join(import.meta.dirname, '../../../docs/screenshots');
const DAY = 86_400_000;

let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;
let jobId: string;

const usd = (amount: number) => `$${amount.toFixed(2)}`;
const clientOf = (user: string) => createClient({ url: server.url, token: tokens[user]!.token });

/** Spend over the days of this month so far: training on a real job, an endpoint, a notebook, storage. */
async function createSpend(): Promise<void> {
  const now = Date.now();
  const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
  const entries: UsageEntry[] = [];
  const window = (start: number, hours: number) => ({
    windowStart: new Date(start).toISOString(),
    windowEnd: new Date(start + hours * 3_600_000).toISOString(),
  });
  for (let back = 0; back < 14; back += 1) {
    const start = now - back * DAY - 2 * 3_600_000;
    if (start < monthStart) break;
    entries.push(
      {
        team: 'legal-rag',
        user: 'alice',
        project: 'legal-ft',
        category: 'training',
        resource: 'gpu:A100',
        quantity: 1 + (back % 3),
        unit: 'gpu_hour',
        rateMicros: 3_670_000,
        sourceKind: 'job',
        sourceId: jobId,
        ...window(start, 1),
      },
      {
        team: 'legal-rag',
        user: 'bob',
        project: 'legal-answerer',
        category: 'inference',
        resource: 'gpu:H100',
        quantity: 0.5 + (back % 2),
        unit: 'gpu_hour',
        rateMicros: 4_200_000,
        sourceKind: 'endpoint',
        sourceId: 'ep_legal_answerer',
        ...window(start + 600_000, 1),
      },
      {
        team: 'legal-rag',
        user: 'alice',
        project: 'explore',
        category: 'notebooks',
        resource: 'gpu:A100',
        quantity: back % 4 === 0 ? 1.25 : 0.25,
        unit: 'gpu_hour',
        rateMicros: 3_670_000,
        sourceKind: 'notebook',
        sourceId: 'nb_explore',
        ...window(start + 1_200_000, 1),
      },
      {
        team: 'legal-rag',
        user: 'system',
        project: 'model artifacts',
        category: 'storage',
        resource: 'storage:models',
        quantity: 24 * 40,
        unit: 'gb_hour',
        rateMicros: 32,
        sourceKind: 'storage',
        sourceId: 'storage:legal-rag:models',
        ...window(start - 22 * 3_600_000, 24),
      },
      {
        team: 'search',
        user: 'carol',
        project: 'ranker',
        category: 'training',
        resource: 'gpu:H100:spot',
        quantity: 2,
        unit: 'gpu_hour',
        rateMicros: 2_100_000,
        sourceKind: 'job',
        sourceId: 'job_search_ranker',
        ...window(start, 1),
      },
    );
  }
  await server.platform.store.db
    .transaction()
    .execute((trx) => appendUsage(trx, server.platform.clock, entries));
}

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-bill-'));
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(import.meta.dirname, '../../../seed/demo.yaml'),
    webRoot,
  });
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  // A short real job, so the drill-down reaches a job; it ends at once and its own metering is done.
  const { job } = await clientOf('alice').jobs.submit({
    product: 'fine-tune',
    name: 'legal-ft',
    gpus: 1,
    gpuType: 'A100',
    maxRuntime: '10m',
    command: 'echo done',
  });
  jobId = job!.id;
  const deadline = Date.now() + 30_000;
  while ((await clientOf('alice').jobs.get(jobId)).status !== 'succeeded' && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
  await createSpend();
  browser = await launchChromium();
});
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
  await page.getByRole('navigation').getByRole('link', { name: 'Bill' }).click();
  await page.getByRole('heading', { level: 1, name: 'Bill' }).waitFor();
  return page;
}

const text = async (page: Page, testId: string) =>
  (await page.getByTestId(testId).first().textContent()) ?? '';

describe('the Bill page (headless Chromium)', () => {
  it('shows alice her team’s totals, budget and forecast as the API computes them, with the chart', async () => {
    const bill: Bill = await clientOf('alice').bill.get({ team: 'legal-rag', by: 'workload' });
    expect(bill.total).toBeGreaterThan(0);
    const page = await signIn('alice');
    await page.getByTestId('bill-total').waitFor();
    expect(await text(page, 'bill-total')).toBe(usd(bill.total));
    for (const total of bill.categories) {
      expect(await text(page, `total-${total.category}`)).toContain(usd(total.cost));
      expect(total.cost).toBeGreaterThan(0);
    }
    expect(await text(page, 'budget-used')).toContain(
      `${usd(bill.budget!.spent)} used (${bill.budget!.usedPercent.toFixed(1)} %)`,
    );
    expect(await text(page, 'bill-forecast')).toContain(`${usd(bill.forecast!.burnRatePerDay)}/day`);
    // The chart: one stacked bar per category and day with spend, the cumulative line, the budget line.
    const chart = page.getByTestId('bill-chart');
    await chart.locator('.recharts-bar-rectangle').first().waitFor();
    expect(await chart.locator('.recharts-bar-rectangle').count()).toBeGreaterThanOrEqual(4);
    expect(await chart.locator('.recharts-reference-line').count()).toBe(1);
    expect(await chart.textContent()).toContain('budget $300.00');
    // Top workloads and users, most expensive first, as the API ranks them.
    const workloads = page.getByTestId('top-workloads');
    expect(await workloads.locator('tbody tr').count()).toBe(bill.topWorkloads.length);
    expect(await workloads.locator('tbody tr').first().textContent()).toContain(bill.topWorkloads[0]!.label);
    expect(await text(page, 'top-users')).toContain('alice');
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'bill.png'), fullPage: true });

    // Drill-down: the job's ledger rows, and the job itself.
    await page.getByTestId(`workload-${jobId}`).getByRole('button').click();
    const drill = page.getByTestId('bill-drilldown');
    await drill.getByTestId('ledger-rows').waitFor();
    const line = bill.topWorkloads.find((candidate) => candidate.key === jobId)!;
    expect(await drill.getByTestId('ledger-rows').locator('tbody tr').count()).toBe(line.rows);
    await drill.getByTestId('job-details').waitFor();
    expect(await drill.getByTestId('job-details').textContent()).toContain(jobId);
    await page.close();
  });

  it('shows platform-admins every team side by side, matching the API', async () => {
    const teams = await clientOf('admin').bill.teams();
    const page = await signIn('admin');
    await page.getByTestId('bill-teams').waitFor();
    for (const team of teams.teams) {
      const row = await text(page, `team-row-${team.team}`);
      expect(row).toContain(usd(team.total));
    }
    expect(teams.teams.map((team) => team.team)).toEqual(expect.arrayContaining(['legal-rag', 'search']));
    // The combined bill below sums every team.
    expect(await text(page, 'bill-total')).toBe(usd(teams.total));
    await page.screenshot({ path: join(screenshots, 'bill-teams.png'), fullPage: true });
    // Picking a team opens its bill.
    await page.getByTestId('team-row-search').getByRole('button', { name: 'search' }).click();
    await expect
      .poll(() => text(page, 'bill-total'))
      .toBe(usd(teams.teams.find((team) => team.team === 'search')!.total));
    await page.close();
  });

  it('never shows carol (search) the bill of legal-rag', async () => {
    const error = await clientOf('carol')
      .bill.get({ team: 'legal-rag' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('not_found');
    const csv = await clientOf('alice').bill.csv({ team: 'legal-rag', by: 'day' });
    expect(csv.split('\r\n')[0]).toContain('cost_usd');
    const page = await signIn('carol');
    await page.getByTestId('bill-total').waitFor();
    const options = await page.getByLabel('Team').locator('option').allTextContents();
    expect(options).toEqual(['search']);
    expect(await page.content()).not.toContain('legal-answerer');
    await page.close();
  });
});
