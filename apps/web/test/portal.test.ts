import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';

let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-portal-'));
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(import.meta.dirname, '../../../seed/demo.yaml'),
    webRoot,
  });
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('portal in headless Chromium', () => {
  it('refuses a wrong token, then signs in and shows who you are and your teams', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.getByLabel('API token').fill('aic_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe(
        'That token was not accepted: it may be mistyped, revoked or expired. Get a new one with `aicloud tokens create`.',
      );
    await page.getByLabel('API token').fill(tokens.alice!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('whoami').waitFor();
    expect(await page.getByTestId('whoami').textContent()).toContain('Signed in as alice');
    await page.getByTestId('teams-table').waitFor();
    expect(await page.getByTestId('teams-table').textContent()).toContain('legal-rag');
    for (const area of [
      'Catalog',
      'Jobs',
      'Notebooks',
      'Models',
      'Endpoints',
      'Bill',
      'Approvals',
      'Policies',
      'Audit',
    ]) {
      expect(await page.getByRole('navigation').getByRole('link', { name: area }).count()).toBe(1);
    }
    await page.close();
  });

  it('shows the audit trail to a platform-admin', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.getByLabel('API token').fill(tokens.admin!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('whoami').waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
    await page.getByTestId('audit-table').waitFor();
    const text = await page.getByTestId('audit-table').textContent();
    expect(text).toContain('team.created');
    expect(text).toContain('legal-rag');
    expect(page.url()).toBe(`${server.url}/audit`);
    await page.close();
  });
});
