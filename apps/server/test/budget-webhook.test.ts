import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Platform } from '@aicloud/core';
import { createCedarAuthorizer } from '@aicloud/policy';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.ts';
import { composePlatform } from '../src/composition-root.ts';
import { repoRoot } from '../src/repo-paths.ts';

/** Saving the budget webhook: only to allowed hosts; nothing here sends a webhook. */
let platform: Platform;
let app: FastifyInstance;
let dataDir: string;
let tokens: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'aicloud-webhook-'));
  platform = await composePlatform({
    dataDir,
    sqliteFile: join(dataDir, 'aicloud.db'),
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    catalogDir: join(repoRoot, 'catalog'),
    authorizer: createCedarAuthorizer({ policiesDir: join(repoRoot, 'policies') }),
    webhookAllowedHosts: ['127.0.0.1', 'hooks.example.com'],
  });
  app = await buildApp(platform, { webRoot: null });
  const credentials = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as Record<
    string,
    { token: string }
  >;
  tokens = Object.fromEntries(Object.entries(credentials).map(([user, entry]) => [user, entry.token]));
});
afterAll(async () => {
  await app?.close();
  await platform?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const save = (user: string, url: string | null) =>
  app.inject({
    method: 'PUT',
    url: '/v1/settings/budget-webhook',
    headers: { authorization: `Bearer ${tokens[user]}` },
    payload: { url },
  });

const stored = async () =>
  (
    await platform.store.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'budget_webhook_url')
      .executeTakeFirst()
  )?.value ?? null;

describe('PUT /v1/settings/budget-webhook', () => {
  it('refuses metadata, link-local, unlisted and unlisted-private URLs with a 400 naming url', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://[fe80::1]/hook',
      'http://10.0.0.7/hook',
      'https://not-listed.example.org/hook',
      'ftp://127.0.0.1/hook',
    ]) {
      const response = await save('admin', url);
      expect(response.statusCode, url).toBe(400);
      const { error } = response.json();
      expect(error.code).toBe('invalid_input');
      expect(error.message).toMatch(/^url: /);
      expect(error.issues).toEqual([{ path: ['url'], message: expect.any(String) }]);
    }
    expect(await stored()).toBeNull();
  });

  it('saves an allowed URL (platform-admins only) and clears it', async () => {
    expect((await save('alice', 'http://127.0.0.1:9/hook')).statusCode).toBe(403);
    const saved = await save('admin', 'http://127.0.0.1:9/hook');
    expect(saved.statusCode, saved.body).toBe(200);
    expect(saved.json()).toEqual({ url: 'http://127.0.0.1:9/hook' });
    expect(await stored()).toBe(JSON.stringify('http://127.0.0.1:9/hook'));
    const cleared = await save('admin', null);
    expect(cleared.statusCode).toBe(200);
    expect(await stored()).toBeNull();
  });

  it('refuses to start with a malformed allow-list entry', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'aicloud-webhook-bad-'));
    try {
      await expect(
        composePlatform({
          dataDir: elsewhere,
          sqliteFile: join(elsewhere, 'aicloud.db'),
          seedFile: null,
          catalogDir: null,
          authorizer: createCedarAuthorizer({ policiesDir: join(repoRoot, 'policies') }),
          webhookAllowedHosts: ['http://hooks.example.com/'],
        }),
      ).rejects.toMatchObject({ code: 'invalid_input', message: /webhookAllowedHosts/ });
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
