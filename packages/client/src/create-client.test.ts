import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routes } from '@aicloud/contracts';
import { type RunningServer, repoRoot, startServer } from '@aicloud/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillPath } from './create-client.ts';
import { ApiError, type Client, createClient } from './index.ts';

let server: RunningServer;
let alice: Client;
let aliceToken: string;
/** A server that answers every request with the same status and body, whatever the contract says. */
let liar: Server;
let liarAnswer = { status: 200, body: '{}' };

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-client-'));
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
  });
  aliceToken = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')).alice.token;
  alice = createClient({ url: server.url, token: aliceToken });
  liar = createServer((_request, response) => {
    response.writeHead(liarAnswer.status, { 'content-type': 'application/json' }).end(liarAnswer.body);
  });
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await server?.stop();
  liar?.close();
});

const liarClient = () =>
  createClient({ url: `http://127.0.0.1:${(liar.address() as AddressInfo).port}`, token: 'aic_any' });

describe('the client derived from the contract routes', () => {
  it('fills path parameters, sends bodies and encodes queries', async () => {
    expect((await alice.whoami()).user.name).toBe('alice');
    const secret = await alice.secrets.set('legal-rag', 'CLIENT_TEST_KEY', 'swordfish');
    expect(secret).toMatchObject({ team: 'legal-rag', name: 'CLIENT_TEST_KEY' });
    expect((await alice.secrets.list('legal-rag')).items.map((item) => item.name)).toContain(
      'CLIENT_TEST_KEY',
    );
    expect(await alice.secrets.delete('legal-rag', 'CLIENT_TEST_KEY')).toEqual({ deleted: true });
    // The dataset route's trailing `*` keeps the path's slashes.
    const dataset = await alice.datasets.get('projects/legal-rag/datasets/v2');
    expect(dataset.path).toBe('projects/legal-rag/datasets/v2');
    expect((await alice.approvals.list('pending')).items.every((item) => item.status === 'pending')).toBe(
      true,
    );
    expect((await alice.jobs.list({ team: 'legal-rag', limit: 1 })).items.length).toBeLessThanOrEqual(1);
  });

  it('answers refusals as ApiError with the code and status of the error body', async () => {
    await expect(alice.jobs.get('job_does_not_exist')).rejects.toMatchObject({
      code: 'not_found',
      status: 404,
    });
    await expect(alice.jobs.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_input', status: 400 });
    const stranger = createClient({ url: server.url, token: 'aic_wrong' });
    await expect(stranger.whoami()).rejects.toBeInstanceOf(ApiError);
    await expect(stranger.whoami()).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
  });

  it('refuses a success answer that its route’s response schema does not allow', async () => {
    liarAnswer = { status: 200, body: JSON.stringify({ user: { name: 42 } }) };
    const error = await liarClient()
      .whoami()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'internal', status: 200 });
    expect((error as Error).message).toContain('GET /v1/whoami');
    expect((error as Error).message).toContain('user.name');
    // The same client takes an answer that keeps the contract.
    liarAnswer = { status: 200, body: JSON.stringify({ items: [] }) };
    expect(await liarClient().teams.list()).toEqual({ items: [] });
  });

  it('says where an unreachable server was, and what a body-less failure was', async () => {
    liarAnswer = { status: 502, body: 'not json' };
    await expect(liarClient().catalog.list()).rejects.toMatchObject({ code: 'internal', status: 502 });
    const nowhere = createClient({ url: 'http://127.0.0.1:9', token: 'aic_any' });
    await expect(nowhere.whoami()).rejects.toMatchObject({ code: 'unavailable', status: 0 });
  });

  it('fills paths with each parameter encoded', () => {
    expect(fillPath(routes.setSecret.path, { team: 'a b', name: 'x/y' })).toBe(
      '/v1/teams/a%20b/secrets/x%2Fy',
    );
    expect(fillPath(routes.getDataset.path, { '*': 'projects/t/datasets/d 1' })).toBe(
      '/v1/datasets/projects/t/datasets/d%201',
    );
    expect(() => fillPath(routes.getJob.path, {})).toThrow(ApiError);
  });
});

describe('the server serves the contract', () => {
  it('describes every contract route in /v1/openapi.json as the contract does (GET /v1/models is the data plane’s)', async () => {
    const response = await fetch(`${server.url}/v1/openapi.json`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    const document = (await response.json()) as {
      paths: Record<string, Record<string, { summary: string; tags: string[] }>>;
    };
    for (const [name, route] of Object.entries(routes)) {
      if (name === 'listModels') continue;
      const operation =
        document.paths[route.path.replace(/:([A-Za-z]+)/g, '{$1}')]?.[route.method.toLowerCase()];
      expect(operation, `${name}: ${route.method} ${route.path}`).toMatchObject({
        summary: route.summary,
        tags: [route.tag],
      });
    }
    // The registry's list, answered on the OpenAI-compatible route for a user token, keeps the contract too.
    expect(Array.isArray((await alice.models.list()).items)).toBe(true);
  });
});
