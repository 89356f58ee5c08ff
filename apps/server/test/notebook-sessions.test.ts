import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createTestPlatform } from '@aicloud/core/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSecretBox } from '../../../packages/core/src/secrets/secret-box.ts';
import { buildApp } from '../src/build-app.ts';

/**
 * Notebook proxy sessions end with the API token that opened them and with the user's team membership.
 * Jupyter is stood in for by a small HTTP server on 127.0.0.1 that checks the proxy's `token` header, so
 * this runs where Jupyter is not installed; the notebook row is written as the controller would.
 */
const JUPYTER_TOKEN = 'jupyter-token-for-tests';

let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let app: FastifyInstance;
let port: number;
let jupyter: Server;
let jupyterPort: number;
let tokens: Record<string, string>;
const jupyterSockets = new Set<Duplex>();

beforeAll(async () => {
  jupyter = createServer((request, response) => {
    const ok = request.headers.authorization === `token ${JUPYTER_TOKEN}`;
    response.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ ok }));
  });
  // Websockets: answer the upgrade and keep the connection open until the other side ends it.
  jupyter.on('upgrade', (_request, socket: Duplex) => {
    jupyterSockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('end', () => socket.end());
    socket.on('close', () => jupyterSockets.delete(socket));
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  await new Promise<void>((resolve) => jupyter.listen(0, '127.0.0.1', resolve));
  jupyterPort = (jupyter.address() as { port: number }).port;
  platform = await createTestPlatform('sqlite', null);
  app = await buildApp(platform, { webRoot: null });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
  platform.setServerUrl(`http://127.0.0.1:${port}`);
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8')) as Record<
    string,
    { token: string }
  >;
  tokens = Object.fromEntries(Object.entries(credentials).map(([user, entry]) => [user, entry.token]));
});

afterAll(async () => {
  await app?.close();
  await platform?.dispose();
  for (const socket of jupyterSockets) socket.destroy();
  jupyter?.closeAllConnections();
  await new Promise((resolve) => jupyter?.close(resolve));
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A running notebook of team legal-rag whose "Jupyter" is the stand-in server. */
async function runningNotebook(name: string): Promise<string> {
  const id = `nb_${name}${Math.random().toString(36).slice(2, 8)}`;
  const box = openSecretBox(join(platform.dataDir, 'secret.key'));
  const now = new Date().toISOString();
  await platform.store.db
    .insertInto('notebooks')
    .values({
      id,
      name,
      team: 'legal-rag',
      owner: 'alice',
      product: 'notebook-cpu',
      gpus: 0,
      gpu_type: null,
      gpu_indexes: '[]',
      egress: 'allowed',
      status: 'running',
      host: '127.0.0.1',
      port: jupyterPort,
      token_sealed: box.seal(JUPYTER_TOKEN, `notebook:${id}`),
      netns: null,
      work_dir: join(platform.dataDir, 'notebooks', id),
      rate_micros: 0,
      estimate_micros: 0,
      created_at: now,
      started_at: now,
      last_activity_at: now,
      idle_timeout_s: 3600,
      max_lifetime_s: 7200,
      warned_at: null,
      warning: null,
      snoozed_until: null,
      stopped_at: null,
      stop_reason: null,
      stop_message: null,
      metered_until: null,
      cost_micros: 0,
      external_id: null,
    })
    .execute();
  return id;
}

/** A new API token of a user (created with the seeded one). */
async function newToken(user: string): Promise<{ id: string; token: string }> {
  const created = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(tokens[user]!),
    payload: { name: `nb-${Math.random().toString(36).slice(2, 8)}` },
  });
  expect(created.statusCode, created.body).toBe(201);
  return created.json() as { id: string; token: string };
}

/** Signs a browser in with a login URL asked for with `token`; returns the session cookie. */
async function openSession(id: string, token: string): Promise<string> {
  const link = await app.inject({
    method: 'POST',
    url: `/v1/notebooks/${id}/login-url`,
    headers: bearer(token),
  });
  expect(link.statusCode, link.body).toBe(200);
  const page = await fetch((link.json() as { url: string }).url, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
  expect(cookie).toMatch(/^aicloud_nb=/);
  return cookie;
}

const proxied = (id: string, cookie: string) =>
  fetch(`http://127.0.0.1:${port}/notebooks/${id}/api/status`, { headers: { cookie } });

describe('notebook proxy sessions', () => {
  it('end at once when the API token that opened them is revoked', async () => {
    const id = await runningNotebook('revoke');
    const token = await newToken('alice');
    const cookie = await openSession(id, token.token);
    const before = await proxied(id, cookie);
    expect(before.status).toBe(200);
    expect(await before.json()).toEqual({ ok: true });
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(tokens.alice!),
    });
    expect(revoked.statusCode, revoked.body).toBe(200);
    const after = await proxied(id, cookie);
    expect(after.status).toBe(401);
    expect((await after.json()).error).toMatchObject({ code: 'unauthenticated' });
    // Alice's other tokens and sessions are untouched.
    const other = await openSession(id, tokens.alice!);
    expect((await proxied(id, other)).status).toBe(200);
  });

  it('end at once when the user leaves the notebook’s team', async () => {
    const id = await runningNotebook('member');
    const cookie = await openSession(id, tokens.bob!);
    expect((await proxied(id, cookie)).status).toBe(200);
    const team = await platform.store.db
      .selectFrom('teams')
      .select('id')
      .where('name', '=', 'legal-rag')
      .executeTakeFirstOrThrow();
    const bob = await platform.store.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', 'bob')
      .executeTakeFirstOrThrow();
    const membership = await platform.store.db
      .selectFrom('memberships')
      .selectAll()
      .where('team_id', '=', team.id)
      .where('user_id', '=', bob.id)
      .executeTakeFirstOrThrow();
    await platform.store.db
      .deleteFrom('memberships')
      .where('team_id', '=', team.id)
      .where('user_id', '=', bob.id)
      .execute();
    try {
      expect((await proxied(id, cookie)).status).toBe(404);
      expect(
        (await fetch(`http://127.0.0.1:${port}/notebooks/${id}/api/status`, { headers: bearer(tokens.bob!) }))
          .status,
      ).toBe(404);
    } finally {
      await platform.store.db.insertInto('memberships').values(membership).execute();
    }
  });

  it('close an open websocket once the token that opened the session is revoked', async () => {
    const id = await runningNotebook('socket');
    const token = await newToken('alice');
    const cookie = await openSession(id, token.token);
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    socket.on('error', () => {});
    const answer = await new Promise<string>((resolve) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
      socket.write(
        `GET /notebooks/${id}/api/kernels/k1/channels HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: ${cookie}\r\n\r\n`,
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 101/);
    // Still open a while later: nothing ends a valid session.
    const early = await Promise.race([
      closed,
      new Promise((resolve) => setTimeout(() => resolve(null), 1500)),
    ]);
    expect(early).toBeNull();
    const revokedAt = Date.now();
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${token.id}`,
      headers: bearer(tokens.alice!),
    });
    expect(revoked.statusCode).toBe(200);
    const end = await Promise.race([
      closed,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000)),
    ]);
    socket.destroy();
    expect(end).not.toBeNull();
    expect(end! - revokedAt).toBeLessThan(3000);
  });
});
