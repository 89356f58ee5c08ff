import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorBody, Model, ModelDetail, ModelLineage, ModelVersion } from '@aicloud/contracts';
import { createTestPlatform } from '@aicloud/core/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApp } from '../src/build-app.ts';

let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let app: FastifyInstance;
let tokens: Record<string, string>;
let work: string;

function safetensors(): Buffer {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(8)]);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aicloud-model-routes-'));
  platform = await createTestPlatform('sqlite', null, { importRoots: { 'legal-rag': [work] } });
  app = await buildApp(platform, { webRoot: null });
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8')) as Record<
    string,
    { token: string }
  >;
  tokens = Object.fromEntries(Object.entries(credentials).map(([user, entry]) => [user, entry.token]));
  mkdirSync(join(work, 'good'));
  writeFileSync(join(work, 'good', 'model.safetensors'), safetensors());
  mkdirSync(join(work, 'evil'));
  // A protocol-0 pickle that calls os.system, renamed to look like text.
  writeFileSync(join(work, 'evil', 'notes.txt'), "cos\nsystem\n(S'id'\ntR.");
});
afterAll(async () => {
  await app.close();
  await platform.dispose();
  rmSync(work, { recursive: true, force: true });
});

const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });

describe('model registry routes', () => {
  it('registers, lists, shows, versions, aliases and traces lineage', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/models',
      headers: as('alice'),
      payload: { name: 'legal-answerer', source: `path:${join(work, 'good')}`, metrics: { accuracy: 0.8 } },
    });
    expect(created.statusCode).toBe(201);
    const version = ModelVersion.parse(created.json());
    expect(version).toMatchObject({
      version: 1,
      scanVerdict: 'passed',
      scan: { safetensorsPreferred: true },
    });
    const blocked = await app.inject({
      method: 'POST',
      url: '/v1/models',
      headers: as('alice'),
      payload: { name: 'legal-answerer', source: `path:${join(work, 'evil')}` },
    });
    expect(ModelVersion.parse(blocked.json())).toMatchObject({ version: 2, scanVerdict: 'blocked' });

    const list = await app.inject({ method: 'GET', url: '/v1/models', headers: as('alice') });
    expect(z.object({ items: z.array(Model) }).parse(list.json()).items).toMatchObject([
      { name: 'legal-answerer', latestVersion: 2, versionCount: 2 },
    ]);
    const alias = await app.inject({
      method: 'PUT',
      url: '/v1/models/legal-answerer/aliases/champion',
      headers: as('alice'),
      payload: { version: 1 },
    });
    expect(Model.parse(alias.json()).aliases).toEqual({ champion: 1 });
    const shown = await app.inject({ method: 'GET', url: '/v1/models/legal-answerer', headers: as('alice') });
    expect(ModelDetail.parse(shown.json()).latest?.version).toBe(2);
    const versions = await app.inject({
      method: 'GET',
      url: '/v1/models/legal-answerer/versions',
      headers: as('alice'),
    });
    expect(versions.json().items).toHaveLength(2);
    const byAlias = await app.inject({
      method: 'GET',
      url: '/v1/models/legal-answerer/versions/champion',
      headers: as('alice'),
    });
    expect(ModelVersion.parse(byAlias.json()).version).toBe(1);
    const lineage = await app.inject({
      method: 'GET',
      url: '/v1/lineage/models/legal-answerer/1',
      headers: as('alice'),
    });
    expect(ModelLineage.parse(lineage.json())).toMatchObject({
      version: 1,
      datasets: [],
      job: null,
      endpoints: [],
    });
  });

  it('answers 400 for an unpinned hf source, 403 for unpinned trust_remote_code, 404 across teams', async () => {
    const unpinned = await app.inject({
      method: 'POST',
      url: '/v1/models',
      headers: as('alice'),
      payload: { name: 'llama', source: 'hf://meta-llama/Llama-3.2-1B' },
    });
    expect(unpinned.statusCode).toBe(400);
    expect(ErrorBody.parse(unpinned.json()).error.message).toMatch(/revision/);
    const trust = await app.inject({
      method: 'POST',
      url: '/v1/models',
      headers: as('alice'),
      payload: { name: 'llama', source: 'hf://meta-llama/Llama-3.2-1B@main', trustRemoteCode: true },
    });
    expect(trust.statusCode).toBe(403);
    expect(trust.json().error.code).toBe('policy_denied');
    for (const url of [
      '/v1/models/legal-answerer',
      '/v1/models/legal-answerer/versions',
      '/v1/models/legal-answerer/versions/1',
      '/v1/lineage/models/legal-answerer/1',
    ]) {
      const response = await app.inject({ method: 'GET', url, headers: as('carol') });
      expect(response.statusCode, url).toBe(404);
    }
    const list = await app.inject({ method: 'GET', url: '/v1/models', headers: as('carol') });
    expect(list.json().items).toEqual([]);
  });
});
