import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';

const screenshots = join(import.meta.dirname, '../../../docs/screenshots');

let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-guardrails-'));
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

/** Polls until the assertion holds; the preview waits 300 ms for typing to settle, then asks the server. */
const eventually = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 10_000 });

const text = (locator: Locator) => async () =>
  (await locator.count()) > 0 ? locator.first().textContent() : '';

describe('guardrails in the portal (headless Chromium)', () => {
  const jobs: { admitted?: string; approved?: string; held?: string } = {};

  it('previews cost and policy while alice fills the launch form, then submits', async () => {
    const page = await signIn('alice');
    await open(page, 'Catalog');
    const card = page.getByTestId('product-fine-tune');
    expect(await card.textContent()).toContain('1–8 × A100 or H100');
    expect(await card.textContent()).toContain('$3.67');
    await card.getByRole('button', { name: 'Launch fine-tune' }).click();
    const outcome = card.getByTestId('preview-outcome');
    const reasons = card.getByTestId('preview-reasons');

    // Too many GPUs: the preview says denied, with the rule, what was asked and the limit.
    await card.getByLabel('GPUs').fill('16');
    await card.getByLabel('GPU type').selectOption('H100');
    await card.getByLabel('Max runtime').fill('1h');
    await eventually(text(outcome)).toContain('denied');
    await eventually(text(reasons)).toContain('gpu-max-per-product');
    expect(await reasons.textContent()).toContain('16 × H100');
    expect(await reasons.textContent()).toContain('8 GPUs on product fine-tune');

    // Submitting anyway: the API refuses, and the refusal's reasons are shown.
    await card.getByRole('button', { name: 'Submit job' }).click();
    const result = card.getByTestId('submit-result');
    await eventually(text(result)).toContain('Refused');
    expect(await card.getByTestId('submit-reasons').textContent()).toContain('gpu-max-per-product');

    // A malformed field is marked where it is.
    const maxRuntime = card.getByLabel('Max runtime');
    await maxRuntime.fill('soon');
    await eventually(() => maxRuntime.getAttribute('aria-invalid')).toBe('true');
    expect(await card.locator('#fine-tune-maxRuntime-error').textContent()).toContain('duration');
    await maxRuntime.fill('1h');
    await eventually(() => maxRuntime.getAttribute('aria-invalid')).toBe(null);

    // Two A100s on the team's dataset for an hour: admitted, with its estimate.
    await card.getByLabel('GPUs').fill('2');
    await card.getByLabel('GPU type').selectOption('A100');
    await card.getByLabel('projects/legal-rag/datasets/v2').check();
    await card.getByLabel('Name').fill('legal-ft');
    await eventually(text(outcome)).toContain('admitted');
    await eventually(text(card.getByTestId('preview-estimate'))).toContain('$7.34');
    expect(await card.getByTestId('preview-estimate').textContent()).toContain('$300.00');
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'catalog.png'), fullPage: true });

    await card.getByRole('button', { name: 'Submit job' }).click();
    await eventually(text(result)).toContain('Submitted');
    expect(await result.textContent()).toContain('admitted');
    jobs.admitted = (await card.getByTestId('submitted-job-id').textContent()) ?? '';
    expect(jobs.admitted).toMatch(/^job_/);

    // Six GPUs: the preview warns it needs approval; submitted, it is held.
    await card.getByLabel('GPUs').fill('6');
    await card.getByLabel('Name').fill('legal-ft-big');
    await eventually(text(outcome)).toContain('needs approval');
    await eventually(text(reasons)).toContain('gpu-approval-above-4');
    expect(await card.getByTestId('preview-warnings').textContent()).toContain('spot-recommended');
    await card.getByRole('button', { name: 'Submit job' }).click();
    await eventually(text(result)).toContain('held for approval');
    jobs.approved = (await card.getByTestId('submitted-job-id').textContent()) ?? '';
    expect(jobs.approved).toMatch(/^job_/);
    expect(jobs.approved).not.toBe(jobs.admitted);

    // One more held job, which alice will cancel from the Jobs page.
    await card.getByLabel('Name').fill('legal-ft-spare');
    await card.getByRole('button', { name: 'Submit job' }).click();
    await eventually(async () => card.getByTestId('submitted-job-id').textContent()).not.toBe(jobs.approved);
    jobs.held = (await card.getByTestId('submitted-job-id').textContent()) ?? '';
    await page.close();
  });

  it('lets bob approve the held job from his inbox, and it is admitted', async () => {
    const page = await signIn('bob');
    await open(page, 'Approvals');
    const card = page.locator('article', { hasText: jobs.approved! });
    await card.getByTestId('approval-job').waitFor();
    expect(await card.textContent()).toContain('gpu-approval-above-4');
    expect(await card.getByTestId('approval-job').textContent()).toContain('6 × A100');
    await card.getByRole('button', { name: 'Approve' }).click();
    const result = page.getByTestId('approval-result');
    await eventually(text(result)).toContain('admitted');
    expect(await result.textContent()).toContain(jobs.approved!);
    // The approved request leaves the pending inbox; the other held job stays.
    await eventually(async () => page.locator('article', { hasText: jobs.approved! }).count()).toBe(0);
    expect(await page.locator('article', { hasText: jobs.held! }).count()).toBe(1);
    await page.close();
  });

  it('lists the jobs with their reasons, and alice cancels the held one', async () => {
    const page = await signIn('alice');
    await open(page, 'Jobs');
    const table = page.getByTestId('jobs-table');
    await table.waitFor();
    for (const id of [jobs.admitted!, jobs.approved!, jobs.held!])
      expect(await table.textContent()).toContain(id);
    expect(await page.getByTestId(`job-row-${jobs.held}`).textContent()).toContain('pending approval');
    expect(await page.getByTestId(`job-row-${jobs.held}`).textContent()).toContain('gpu-approval-above-4');

    // A row opens the job's own page.
    await page.getByTestId(`job-row-${jobs.held}`).click();
    await eventually(() => page.url()).toContain(`/jobs/${jobs.held}`);
    const details = page.getByTestId('job-details');
    await eventually(text(details.getByTestId('job-reasons'))).toContain('aicloud approvals approve');
    expect(await details.getByTestId('job-reasons').textContent()).toContain('4 GPUs without a manager');
    expect(await page.getByTestId('log-empty').textContent()).toContain('not started');
    await details.getByRole('button', { name: 'Cancel job' }).click();
    await eventually(text(details)).toContain('cancelled');
    expect(await details.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
    await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).click();
    await eventually(text(page.getByTestId(`job-row-${jobs.held}`))).toContain('cancelled');
    await page.close();
  });

  it('shows the active policy set and its exceptions', async () => {
    const page = await signIn('alice');
    await open(page, 'Policies');
    await page.getByTestId('policies-table').waitFor();
    expect(await page.getByTestId('policy-digest').textContent()).toMatch(/Active policy set \S+/);
    const table = await page.getByTestId('policies-table').textContent();
    expect(table).toContain('gpu-max-per-product');
    expect(table).toContain('require_approval');
    expect(table).toContain('gpus.cedar');
    await page.getByTestId('exceptions-empty').waitFor();
    await page.close();
  });
});
