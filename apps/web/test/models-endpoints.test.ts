import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@aicloud/client';
import { type RunningServer, startServer, webRoot } from '@aicloud/server';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './browser.ts';

const screenshots = join(import.meta.dirname, '../../../docs/screenshots');

let server: RunningServer;
let browser: Browser;
let tokens: Record<string, { token: string }>;

/** A tiny benign safetensors file: 8-byte little-endian header length, the JSON header, 8 bytes of data. */
function safetensors(): Buffer {
  const header = Buffer.from('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(8)]);
}

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'aicloud-models-web-'));
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
  const alice = createClient({ url: server.url, token: tokens.alice!.token });

  const good = join(work, 'good-model');
  mkdirSync(good);
  writeFileSync(join(good, 'config.json'), '{"runtime":"aicloud-tiny"}');
  writeFileSync(join(good, 'model.safetensors'), safetensors());
  const benign = await alice.models.register({
    name: 'tiny-good',
    source: `path:${good}`,
    runtime: 'aicloud-tiny',
    metrics: { eval_loss: 1.25 },
  });
  expect(benign.scanVerdict).toBe('passed');

  const bad = join(work, 'bad-model');
  mkdirSync(bad);
  writeFileSync(join(bad, 'config.json'), '{"runtime":"aicloud-tiny"}');
  writeFileSync(
    join(bad, 'pytorch_model.bin'),
    execFileSync('/usr/bin/python3', [
      '-c',
      "import pickle,os,sys\nclass E:\n  def __reduce__(self): return (os.system, ('echo x',))\nsys.stdout.buffer.write(pickle.dumps(E(), protocol=2))",
    ]),
  );
  const evil = await alice.models.register({ name: 'evil', source: `path:${bad}`, runtime: 'aicloud-tiny' });
  expect(evil.scanVerdict).toBe('blocked');

  browser = await launchChromium();
}, 60_000);
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

describe('models, endpoints and notebooks in the portal (headless Chromium)', () => {
  it('shows models with their scan verdicts and lineage, and the refusal to deploy a blocked version', async () => {
    const page = await signIn('alice');
    await open(page, 'Models');
    const goodRow = page.getByTestId('model-row-tiny-good');
    const evilRow = page.getByTestId('model-row-evil');
    await eventually(text(goodRow)).toContain('scan passed');
    await eventually(text(evilRow)).toContain('blocked');
    expect(await goodRow.textContent()).toContain('legal-rag');

    // The benign model, on its own page: its version, runtime, metrics, and the lineage chain.
    await goodRow.click();
    await eventually(() => page.url()).toContain('/models/legal-rag/tiny-good');
    const versions = page.getByTestId('model-versions');
    const version = versions.getByTestId('version-row-1');
    await eventually(text(version)).toContain('scan passed');
    expect(await version.textContent()).toContain('aicloud-tiny');
    expect(await version.textContent()).toContain('eval_loss=1.25');
    expect(await version.textContent()).toContain('path:');
    expect(await version.getByRole('button', { name: 'Deploy' }).getAttribute('class')).toContain('primary');
    const lineage = page.getByTestId('lineage');
    await eventually(text(lineage.getByTestId('lineage-version'))).toContain('tiny-good@1');
    expect(await lineage.getByTestId('lineage-datasets').textContent()).toContain('none recorded');
    expect(await lineage.getByTestId('lineage-job').textContent()).toContain('registered from path:');
    expect(await lineage.getByTestId('lineage-endpoints').textContent()).toContain('not deployed');
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'models.png'), fullPage: true });

    // The blocked model: its badge, the scan's problems, and the server's refusal to deploy it.
    await open(page, 'Models');
    await evilRow.click();
    await eventually(() => page.url()).toContain('/models/legal-rag/evil');
    const evilVersion = page.getByTestId('model-versions').getByTestId('version-row-1');
    await eventually(text(evilVersion)).toContain('blocked');
    await eventually(text(page.getByTestId('scan-problems'))).toContain('dangerous import');
    await eventually(text(page.getByTestId('lineage-version'))).toContain('evil@1');
    await evilVersion.getByRole('button', { name: 'Deploy' }).click();
    const form = page.getByTestId('deploy-form');
    await form.getByLabel('Endpoint name').fill('evil');
    await form.getByLabel('Max replicas').fill('2');
    await form.getByRole('button', { name: 'Deploy endpoint' }).click();
    const result = form.getByTestId('deploy-result');
    await eventually(text(result)).toContain('policy_denied');
    expect(await result.textContent()).toContain('blocked by the security scan');
    expect(await result.getAttribute('role')).toBe('alert');
    await page.close();
  });

  it('shows the empty endpoints list, and the notebooks list with its New button', async () => {
    const page = await signIn('alice');
    await open(page, 'Endpoints');
    await eventually(text(page.getByTestId('endpoints-empty'))).toContain('No endpoints yet');
    expect(await page.getByTestId('endpoints-table').count()).toBe(0);

    await open(page, 'Notebooks');
    await eventually(text(page.getByTestId('notebooks-empty'))).toContain('No notebooks yet');
    await page.getByRole('button', { name: 'New notebook' }).click();
    const form = page.getByTestId('new-notebook');
    expect(await form.getByLabel('GPUs').inputValue()).toBe('0');
    expect(await form.textContent()).toContain('notebook-gpu');
    expect(await form.getByRole('button', { name: 'Start notebook' }).isEnabled()).toBe(true);
    await page.close();
  });
});
