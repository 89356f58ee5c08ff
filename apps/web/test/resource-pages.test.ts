import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';

const screenshots = join(import.meta.dirname, '../../../docs/screenshots');
const WRONG_TOKEN =
  'That token was not accepted: it may be mistyped, revoked or expired. Get a new one with `aicloud tokens create`.';

let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;
let alice: Client;
/** Work that exists before the tests: a job that runs until cancelled, a held job, a model, an endpoint, a notebook. */
const work = { sleeper: '', held: '', approval: '', notebook: '' };

/** A tiny benign safetensors file: 8-byte little-endian header length, the JSON header, 8 bytes of data. */
function safetensors(): Buffer {
  const header = Buffer.from('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(8)]);
}

/** A job that prints a line and a metric line (loss, accuracy) per step, a second apart, then `finished`. */
const trainingCommand = (steps: number) =>
  `for i in $(seq 1 ${steps}); do echo "training step $i of ${steps}"; ` +
  `echo "{\\"event\\":\\"metric\\",\\"step\\":$i,\\"loss\\":$((100 - i * 5)),\\"accuracy\\":0.$((10 + i * 7))}"; sleep 1; done; echo finished`;

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'aicloud-pages-'));
  const dataDir = join(root, 'data');
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(import.meta.dirname, '../../../seed/demo.yaml'),
    webRoot,
    importRoots: { 'legal-rag': [root] },
  });
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  alice = createClient({ url: server.url, token: tokens.alice!.token });

  const sleeper = await alice.jobs.submit({
    product: 'fine-tune',
    name: 'long-run',
    gpus: 1,
    gpuType: 'A100',
    maxRuntime: '10m',
    command: 'echo warming up; sleep 600',
  });
  work.sleeper = sleeper.job!.id;
  const held = await alice.jobs.submit({
    product: 'fine-tune',
    name: 'big-run',
    gpus: 6,
    gpuType: 'A100',
    maxRuntime: '1h',
    command: 'echo big',
  });
  work.held = held.job!.id;
  work.approval = (await alice.approvals.list('pending')).items.find((item) => item.jobId === work.held)!.id;

  const model = join(root, 'tiny-good');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{"runtime":"aicloud-tiny"}');
  writeFileSync(join(model, 'model.safetensors'), safetensors());
  await alice.models.register({ name: 'tiny-good', source: `path:${model}`, runtime: 'aicloud-tiny' });
  await alice.endpoints.deploy({
    model: 'tiny-good',
    team: 'legal-rag',
    version: 1,
    name: 'tiny-answers',
    scaleToZero: true,
    maxReplicas: 1,
  });
  work.notebook = (await alice.notebooks.create({ product: 'notebook-gpu', gpus: 0, name: 'explore' })).id;

  const deadline = Date.now() + 30_000;
  while ((await alice.jobs.get(work.sleeper)).status !== 'running' && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
  browser = await launchChromium();
}, 90_000);
afterAll(async () => {
  await alice?.jobs.cancel(work.sleeper).catch(() => undefined);
  await alice?.notebooks.stop(work.notebook).catch(() => undefined);
  await browser?.close();
  await server?.stop();
});

const eventually = <T>(read: () => Promise<T> | T, timeout = 15_000) => expect.poll(read, { timeout });
const text = (locator: Locator) => async () =>
  (await locator.count()) > 0 ? ((await locator.first().textContent()) ?? '') : '';

/** A fresh browser (its own cookie jar) signed in as `user` on its first tab. */
async function signedIn(
  user: string,
  token = tokens[user]!.token,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
  return { context, page };
}

describe('resource pages, deep links and the session cookie (headless Chromium)', () => {
  it('refuses a wrong token in portal words; signed in, the session is an HttpOnly cookie, not script-readable', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByLabel('API token').fill('aic_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await eventually(text(page.getByRole('alert'))).toBe(WRONG_TOKEN);
    await page.getByLabel('API token').fill(tokens.alice!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('whoami').waitFor();

    const cookies = await context.cookies();
    expect(cookies).toEqual([
      expect.objectContaining({
        name: 'aicloud_session',
        httpOnly: true,
        sameSite: 'Strict',
        secure: false,
        path: '/',
      }),
    ]);
    const visible = await page.evaluate(() =>
      JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage }, cookie: document.cookie }),
    );
    expect(visible).not.toContain(tokens.alice!.token);
    expect(visible).not.toContain('aic_');
    await context.close();
  });

  it('opens a job directly at /jobs/ID in a second tab: the log follows the running job and each metric has a chart', async () => {
    const { context, page } = await signedIn('alice');
    const { job } = await alice.jobs.submit({
      product: 'fine-tune',
      name: 'legal-ft-live',
      gpus: 1,
      gpuType: 'A100',
      maxRuntime: '10m',
      command: trainingCommand(12),
    });
    const id = job!.id;

    // A new tab of the same browser, straight at the job's URL: no sign-in, the cookie carries the session.
    const tab = await context.newPage();
    await tab.goto(`${server.url}/jobs/${id}`);
    await tab.getByTestId('job-page').waitFor();
    await eventually(text(tab.getByRole('heading', { level: 1 }))).toContain('legal-ft-live');
    expect(await tab.getByLabel('API token').count()).toBe(0);

    // While the job runs, the log grows in place and the state says it follows.
    const log = tab.getByTestId('job-logs');
    await eventually(text(log), 30_000).toContain('training step 2 of 12');
    expect((await alice.jobs.get(id)).status).toBe('running');
    expect(await tab.getByTestId('log-state').textContent()).toContain('live');
    expect(await log.textContent()).not.toContain('finished');
    const loss = tab.getByTestId('metric-chart-loss');
    await loss.locator('.recharts-line-curve').waitFor({ timeout: 15_000 });
    expect(await tab.getByTestId('metric-chart-accuracy').count()).toBe(1);
    expect(await loss.textContent()).toContain('step');

    // Then the job ends: the whole log is there, the stream is complete, the charts hold every step.
    await eventually(text(log), 40_000).toContain('finished');
    await eventually(text(tab.getByTestId('log-state'))).toContain('complete');
    expect(await log.textContent()).toContain('training step 12 of 12');
    await eventually(text(loss)).toContain('12 points');
    expect(await loss.textContent()).toContain('latest 40 at step 12');
    await eventually(text(tab.getByRole('heading', { level: 1 }))).toContain('succeeded');
    const path = await loss.locator('.recharts-line-curve').getAttribute('d');
    expect(path?.length ?? 0).toBeGreaterThan(20);
    mkdirSync(screenshots, { recursive: true });
    await tab.screenshot({ path: join(screenshots, 'job.png'), fullPage: true });

    // The list on the first tab links to the same URL, and a click on the row opens it.
    await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).click();
    const row = page.getByTestId(`job-row-${id}`);
    expect(await row.getByRole('link', { name: id }).getAttribute('href')).toBe(`/jobs/${id}`);
    await row.getByRole('cell', { name: 'legal-ft-live' }).click();
    await page.getByTestId('job-page').waitFor();
    expect(page.url()).toBe(`${server.url}/jobs/${id}`);
    await page.goBack();
    await page.getByTestId('jobs-table').waitFor();
    await context.close();
  }, 120_000);

  it('gives every model, endpoint, notebook and approval a URL of its own that opens directly in a new tab', async () => {
    const { context, page } = await signedIn('bob');
    const links: { area: string; row: string; href: string; check: (tab: Page) => Promise<void> }[] = [
      {
        area: 'Models',
        row: 'model-row-tiny-good',
        href: '/models/legal-rag/tiny-good',
        check: async (tab) => {
          await eventually(text(tab.getByTestId('model-versions').getByTestId('version-row-1'))).toContain(
            'scan passed',
          );
        },
      },
      {
        area: 'Endpoints',
        row: 'endpoint-row-tiny-answers',
        href: '/endpoints/tiny-answers',
        check: async (tab) => {
          await eventually(text(tab.getByTestId('endpoint-details'))).toContain('tiny-good@1');
          expect(await tab.getByTestId('endpoint-keys').count()).toBe(1);
        },
      },
      {
        area: 'Notebooks',
        row: 'notebook-row-explore',
        href: `/notebook/${work.notebook}`,
        check: async (tab) => {
          await eventually(text(tab.getByTestId('notebook-details'))).toContain('legal-rag / alice');
          await eventually(text(tab.getByRole('heading', { level: 1 }))).toContain('explore');
        },
      },
      {
        area: 'Approvals',
        row: `approval-${work.approval}`,
        href: `/approvals/${work.approval}`,
        check: async (tab) => {
          const card = tab.getByTestId(`approval-${work.approval}`);
          await eventually(text(card.getByTestId('approval-job'))).toContain('6 × A100');
          expect(await card.getByRole('button', { name: 'Approve' }).count()).toBe(1);
        },
      },
      {
        area: 'Jobs',
        row: `job-row-${work.sleeper}`,
        href: `/jobs/${work.sleeper}`,
        check: async (tab) => {
          await eventually(text(tab.getByTestId('job-logs'))).toContain('warming up');
          expect(await tab.getByTestId('log-state').textContent()).toContain('live');
        },
      },
    ];
    for (const link of links) {
      await page.getByRole('navigation').getByRole('link', { name: link.area }).click();
      const row = page.getByTestId(link.row);
      await row.waitFor();
      const anchor = row.locator(`a[href="${link.href}"]`).first();
      expect(await anchor.count(), link.href).toBe(1);
      // A new tab of the same browser, opened at the URL (as a middle-click or a pasted link would).
      const tab = await context.newPage();
      await tab.goto(`${server.url}${link.href}`);
      await link.check(tab);
      expect(await tab.getByRole('navigation').locator('a.active').textContent()).toBe(link.area);
      await tab.close();
      // In place, a plain click on the link opens the same page.
      await anchor.click();
      await eventually(() => page.url()).toBe(`${server.url}${link.href}`);
      await link.check(page);
    }
    await context.close();
  }, 120_000);

  it('shows a manager what runs now, the spend this period and the approvals waiting on the home page', async () => {
    const { context, page } = await signedIn('bob');
    await eventually(text(page.getByTestId('running-jobs'))).toContain('long-run');
    expect(
      await page.getByTestId('running-jobs').getByRole('link', { name: 'long-run' }).getAttribute('href'),
    ).toBe(`/jobs/${work.sleeper}`);
    await eventually(text(page.getByTestId('running-endpoints'))).toContain('tiny-answers');
    const notebook = await alice.notebooks.get(work.notebook);
    if (notebook.status === 'running' || notebook.status === 'starting')
      await eventually(text(page.getByTestId('running-notebooks'))).toContain('explore');
    expect(await page.getByTestId('waiting-jobs').textContent()).toContain('1 for approval');

    const bill = await createClient({ url: server.url, token: tokens.bob!.token }).bill.get({
      team: 'legal-rag',
    });
    await eventually(text(page.getByTestId('spend-legal-rag'))).toContain(`$${bill.total.toFixed(2)}`);
    expect(await page.getByTestId('spend-legal-rag').textContent()).toContain(
      `${bill.budget!.usedPercent.toFixed(1)} % of $${bill.budget!.maxBudget.toFixed(2)}`,
    );

    const pending = page.getByTestId('pending-approvals');
    await eventually(text(pending)).toContain(`alice asks to run ${work.held}`);
    await pending.getByRole('link', { name: `alice asks to run ${work.held}` }).click();
    await eventually(() => page.url()).toBe(`${server.url}/approvals/${work.approval}`);
    await page.getByRole('navigation').getByRole('link', { name: 'Home' }).click();
    await page.getByTestId('pending-approvals').waitFor();
    await page.screenshot({ path: join(screenshots, 'home.png'), fullPage: true });
    await context.close();

    // alice manages nothing: no approvals box for her.
    const member = await signedIn('alice');
    await member.page.getByTestId('home-spend').waitFor();
    await eventually(text(member.page.getByTestId('running-jobs'))).toContain('long-run');
    expect(await member.page.getByTestId('home-approvals').count()).toBe(0);
    await member.context.close();
  }, 60_000);

  it('signs every tab out when the token behind the cookie is revoked, and on Sign out', async () => {
    const created = await alice.tokens.create({ name: 'portal-revoke' });
    const { context, page } = await signedIn('alice', created.token);
    await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).click();
    await page.getByTestId('jobs-table').waitFor();
    await alice.tokens.revoke(created.id);
    // The list refreshes every 5 s: its next request is refused, and the portal asks for a token again.
    await page.getByTestId('session-ended').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('session-ended').textContent()).toContain('revoked or expired');
    expect(await context.cookies()).toEqual([]);
    const tab = await context.newPage();
    await tab.goto(`${server.url}/jobs/${work.sleeper}`);
    await tab.getByLabel('API token').waitFor();
    await context.close();

    const second = await signedIn('alice');
    await second.page.getByRole('button', { name: 'Sign out' }).click();
    await second.page.getByLabel('API token').waitFor();
    expect(await second.context.cookies()).toEqual([]);
    const after = await second.context.newPage();
    await after.goto(`${server.url}/jobs`);
    await after.getByLabel('API token').waitFor();
    await second.context.close();
  }, 60_000);
});
