import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@aicloud/client';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';

let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;

const clientOf = (user: string) => createClient({ url: server.url, token: tokens[user]!.token });

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-layout-'));
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(import.meta.dirname, '../../../seed/demo.yaml'),
    webRoot,
  });
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  // Held jobs with long names and reasons: rows as wide as the jobs table gets, and nothing that runs.
  for (const name of ['legal-ft-with-a-rather-long-descriptive-name', 'legal-ft-big', 'legal-ft-bigger']) {
    await clientOf('alice').jobs.submit({
      product: 'fine-tune',
      name,
      gpus: 6,
      gpuType: 'H100',
      maxRuntime: '8h',
      spot: true,
      command: 'echo held',
    });
  }
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(
  user: string,
  width: number,
  height: number,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('API token').fill(tokens[user]!.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
  return { context, page };
}

async function open(page: Page, area: string, ready: string): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: area }).click();
  await page.getByTestId(ready).first().waitFor();
}

/** How far the page itself scrolls sideways (0: it fits the window). */
const pageOverflow = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

/** For each table box: how far its table overflows the box (0: it fits without scrolling). */
const tableOverflows = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('.table-wrap')].map((wrap) => wrap.scrollWidth - wrap.clientWidth),
  );

type Box = { x: number; y: number; width: number; height: number };
const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** The budget label's box, every axis's box (ticks, line and title), and the plot's box. */
async function chartBoxes(page: Page): Promise<{ label: Box; axes: Box[]; plot: Box }> {
  const chart = page.getByTestId('bill-chart');
  const label = chart.locator('.budget-label');
  await label.waitFor();
  const axes: Box[] = [];
  for (const axis of await chart.locator('.recharts-cartesian-axis').all()) {
    const box = await axis.boundingBox();
    if (box) axes.push(box);
  }
  return {
    label: (await label.boundingBox())!,
    axes,
    plot: (await chart.locator('.recharts-cartesian-grid').boundingBox())!,
  };
}

describe('layout (headless Chromium)', () => {
  it('fits every table in a 1280 px window', async () => {
    const { context, page } = await signIn('admin', 1280, 800);
    for (const [area, ready] of [
      ['Jobs', 'jobs-table'],
      ['Audit', 'audit-table'],
      ['Policies', 'policies-table'],
      ['Bill', 'bill-teams'],
      ['Home', 'teams-table'],
    ] as const) {
      await open(page, area, ready);
      expect(await pageOverflow(page), area).toBeLessThanOrEqual(0);
      for (const overflow of await tableOverflows(page)) expect(overflow, area).toBeLessThanOrEqual(1);
    }
    await context.close();
  });

  it('stacks table rows as "heading: value" lines on a phone, without sideways scrolling', async () => {
    const { context, page } = await signIn('alice', 390, 844);
    await open(page, 'Jobs', 'jobs-table');
    const table = page.getByTestId('jobs-table');
    const row = table.locator('tbody tr').first();
    expect(await row.evaluate((element) => getComputedStyle(element).display)).toBe('block');
    const cells = row.locator('td');
    expect(await cells.count()).toBe(10);
    const status = cells.nth(5);
    expect(await status.getAttribute('data-label')).toBe('Status');
    expect(await status.evaluate((element) => getComputedStyle(element, '::before').content)).toBe(
      '"Status"',
    );
    // The header row is hidden (still read by screen readers); every cell is as wide as the card.
    expect((await table.locator('thead').boundingBox())!.height).toBeLessThanOrEqual(1);
    const rowBox = (await row.boundingBox())!;
    expect(rowBox.width).toBeLessThanOrEqual(390);
    expect((await status.boundingBox())!.width).toBeGreaterThan(rowBox.width - 4);
    expect(await pageOverflow(page)).toBeLessThanOrEqual(0);
    for (const [area, ready] of [
      ['Audit', 'audit-table'],
      ['Bill', 'bill-chart'],
      ['Home', 'teams-table'],
    ] as const) {
      await open(page, area, ready);
      expect(await pageOverflow(page), area).toBeLessThanOrEqual(0);
    }
    await context.close();
  });

  it('keeps the bill chart’s budget label off the axes, wide or narrow, and near the top of the scale', async () => {
    for (const [width, budget] of [
      [1280, 300],
      [390, 300],
      // 238 × 1.05 rounds up to a scale of 250: the budget line runs just under the top of the plot.
      [1280, 238],
    ] as const) {
      await clientOf('bob').budgets.set('legal-rag', { maxBudget: budget });
      const { context, page } = await signIn('alice', width, 900);
      await open(page, 'Bill', 'bill-chart');
      const { label, axes, plot } = await chartBoxes(page);
      expect(await page.getByTestId('bill-chart').locator('.budget-label').textContent()).toBe(
        `budget $${budget.toFixed(2)}`,
      );
      expect(axes.length).toBe(3);
      for (const axis of axes) expect(overlaps(label, axis), `${width} px, budget ${budget}`).toBe(false);
      // Inside the plot, below its top edge.
      expect(label.x).toBeGreaterThanOrEqual(plot.x);
      expect(label.x + label.width).toBeLessThanOrEqual(plot.x + plot.width);
      expect(label.y).toBeGreaterThanOrEqual(plot.y - 1);
      expect(label.y + label.height).toBeLessThanOrEqual(plot.y + plot.height);
      await context.close();
    }
  });
});
