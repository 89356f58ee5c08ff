import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform } from '@aicloud/core/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.ts';

let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let app: FastifyInstance;
let port: number;
let aliceToken: string;

beforeAll(async () => {
  platform = await createTestPlatform('sqlite', null);
  const webRoot = mkdtempSync(join(tmpdir(), 'aicloud-portal-'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>portal</title>');
  mkdirSync(join(webRoot, 'assets'));
  writeFileSync(join(webRoot, 'assets/app.js'), 'console.log(1);');
  app = await buildApp(platform, { webRoot });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
  aliceToken = credentials.alice.token;
});
afterAll(async () => {
  await app.close();
  await platform.dispose();
});

/** A request over a real socket with the path exactly as given (what `curl --path-as-is` sends). */
function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, method, path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : '{}');
  });
}

const hex = (char: string) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Spellings of one path that a router or a proxy may read as the same path. */
function spellings(path: string): string[] {
  const rest = path.slice('/v1'.length); // '/teams/x'
  const everyChar = (text: string, upper: boolean) =>
    [...text].map((char) => (char === '/' ? '/' : upper ? hex(char).toUpperCase() : hex(char))).join('');
  return [
    `/%761${rest}`,
    `/%76%31${rest}`,
    `/%2576${rest.length ? `1${rest}` : '1'}`,
    everyChar(path, true),
    everyChar(path, false),
    `/v1${rest.replaceAll('/', '%2F')}`,
    `/v1${rest.replaceAll('/', '%2f')}`,
    `//v1${rest}`,
    `/v1/${rest}`,
    path.replaceAll('/', '//'),
    `/./v1${rest}`,
    `/v1/.${rest}`,
    `/v1/x/..${rest}`,
    `/V1${rest}`,
    `${path}/`,
  ];
}

describe('authentication is decided on the route that runs, not on the URL text', () => {
  it('answers 401 for every /v1 route and /metrics however its path is spelled, without a token', async () => {
    const document = JSON.parse(
      (await send('GET', '/v1/openapi.json', { authorization: `Bearer ${aliceToken}` })).body,
    ) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase(),
        path: path.replace(/\{[^}]+\}/g, 'x'),
      })),
    );
    routes.push({ method: 'GET', path: '/v1/openapi.json' }, { method: 'GET', path: '/v1/nothing-here' });
    expect(routes.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const route of routes) {
      for (const spelled of [route.path, ...spellings(route.path)]) {
        const response = await send(route.method, spelled).catch((error: Error) => ({
          status: 0,
          body: error.message,
        }));
        const code = response.status === 401 ? JSON.parse(response.body).error?.code : null;
        if (response.status !== 401 || code !== 'unauthenticated')
          failures.push(`${route.method} ${spelled} -> ${response.status} ${response.body.slice(0, 80)}`);
      }
    }
    for (const spelled of ['/metrics', '/%6detrics', '//metrics', '/./metrics', '/METRICS']) {
      const response = await send('GET', spelled);
      if (response.status !== 401) failures.push(`GET ${spelled} -> ${response.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('keeps /healthz, the portal and its client-side routes public', async () => {
    expect((await send('GET', '/healthz')).status).toBe(200);
    expect((await send('GET', '/%68ealthz')).status).toBe(200);
    expect((await send('GET', '/assets/app.js')).body).toBe('console.log(1);');
    expect((await send('GET', '/')).body).toContain('portal');
    expect((await send('GET', '/jobs/some-job')).body).toContain('portal');
  });

  it('leaves the data plane to endpoint keys and the notebook proxy to its own auth', async () => {
    for (const path of ['/v1/chat/completions', '/%761/chat/completions', '/v1/%65mbeddings']) {
      const response = await send('POST', path, { 'content-type': 'application/json' });
      expect(response.status, path).toBe(401);
      // OpenAI's error shape: the gateway refused the missing key, not the platform's token check.
      expect(JSON.parse(response.body).error, path).toMatchObject({ type: expect.any(String) });
    }
    const keyless = await send('GET', '/v1/models');
    expect(keyless.status).toBe(401);
    expect(JSON.parse(keyless.body).error).toMatchObject({ type: expect.any(String) });
    const registry = await send('GET', '/%761/models', { authorization: `Bearer ${aliceToken}` });
    expect(registry.status).toBe(200);
    expect(JSON.parse(registry.body)).toHaveProperty('items');
    const notebook = await send('GET', '/notebooks/nb_nothere/tree');
    expect(notebook.status).not.toBe(200);
    expect(notebook.status).toBeLessThan(500);
  });

  it('still authenticates and routes a correctly spelled, encoded request with a token', async () => {
    const headers = { authorization: `Bearer ${aliceToken}` };
    expect((await send('GET', '/%761/whoami', headers)).status).toBe(200);
    expect((await send('GET', '/v1/nothing-here', headers)).status).toBe(404);
  });
});
