import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Notebook } from '@aicloud/contracts';
import { createTestPlatform } from '@aicloud/core/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  httpCall,
  type JupyterEndpoint,
  openWebSocket,
  runInKernel,
} from '../../../packages/core/src/notebooks/testing/kernel-client.ts';
import { buildApp } from '../src/build-app.ts';
import { splitCookies, upstreamHeaders } from '../src/routes/notebook-proxy.ts';

// These tests never skip: without Jupyter (or, for egress blocking, root and iproute2) they fail, naming the fix.
const haveJupyter = existsSync('/usr/bin/jupyter-notebook');
const haveNamespaces = process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/sbin/ip');

/** Egress allowed, 10 s idle, 30 s at most: short enough to watch the controller work. */
const shortProduct = {
  name: 'notebook-short',
  kind: 'notebook',
  gpu: { types: [], min: 0, max: 0 },
  cpus: 1,
  memoryGiB: 1,
  maxDuration: '30s',
  idleDuration: '10s',
  egress: 'allowed',
  spotPolicy: 'on-demand',
  graceSeconds: 5,
  prices: { cpu: { onDemand: 0.19, spot: 0.08 } },
};

/** Jupyter servers started under a data dir (other test files run their own at the same time). */
function jupyterPids(dataDir: string): Set<number> {
  const pids = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args = '';
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (args.includes(`--notebook-dir=${dataDir}/`)) pids.add(Number(entry));
  }
  return pids;
}

describe('notebook proxy headers', () => {
  it("strips the platform's cookie and token, injects Jupyter's token, and rewrites Host and Origin", () => {
    const headers = upstreamHeaders(
      {
        host: 'aicloud.example:8787',
        origin: 'http://aicloud.example:8787',
        cookie: 'aicloud_nb=usr_1.999.sig; _xsrf=abc',
        authorization: 'Bearer aic_secret',
        connection: 'keep-alive, x-private',
        'x-private': '1',
        referer: 'http://aicloud.example:8787/notebooks/nb_1/login?ticket=t',
        accept: 'application/json',
      },
      { notebookId: 'nb_1', host: '10.231.0.2', port: 8888, token: 'jt', userName: 'alice' },
      false,
    );
    expect(headers).toEqual({
      host: '10.231.0.2:8888',
      origin: 'http://10.231.0.2:8888',
      authorization: 'token jt',
      cookie: '_xsrf=abc',
      accept: 'application/json',
    });
    expect(splitCookies('a=1; aicloud_nb=v; b=2')).toEqual({ ours: 'v', rest: 'a=1; b=2' });
  });
});

describe('notebooks through the server (real Jupyter)', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let app: FastifyInstance;
  let tokens: Record<string, string>;
  let port: number;

  beforeAll(async () => {
    if (!haveJupyter)
      throw new Error(
        'Jupyter is missing (/usr/bin/jupyter-notebook): run `npm test` as root (its pretest installs ' +
          "Debian's jupyter-notebook) or `sudo apt-get install jupyter-notebook`",
      );
    platform = await createTestPlatform('sqlite', null);
    app = await buildApp(platform, { webRoot: null });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
    platform.setServerUrl(`http://127.0.0.1:${port}`);
    const credentials = JSON.parse(
      readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'),
    ) as Record<string, { token: string }>;
    tokens = Object.fromEntries(Object.entries(credentials).map(([user, entry]) => [user, entry.token]));
    const put = await app.inject({
      method: 'PUT',
      url: '/v1/catalog/notebook-short',
      headers: as('admin'),
      payload: shortProduct,
    });
    expect(put.statusCode, put.body).toBeLessThan(300);
  });

  afterAll(async () => {
    if (!platform) return;
    await platform.notebooks.stopAll('test teardown');
    const namespaces = (
      await platform.store.db.selectFrom('notebooks').select('netns').where('netns', 'is not', null).execute()
    ).map((row) => row.netns!);
    await app?.close();
    await platform.dispose();
    const leftoverNamespaces = namespaces.filter((name) => existsSync(`/run/netns/${name}`));
    for (const name of leftoverNamespaces) execFileSync('ip', ['netns', 'del', name]);
    expect(leftoverNamespaces).toEqual([]);
    const leftover = [...jupyterPids(platform.dataDir)];
    for (const pid of leftover) process.kill(pid, 'SIGKILL');
    expect(leftover).toEqual([]);
  });

  const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });

  async function create(user: string, payload: Record<string, unknown>): Promise<Notebook> {
    const response = await app.inject({ method: 'POST', url: '/v1/notebooks', headers: as(user), payload });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as Notebook;
  }

  async function login(id: string, user = 'alice'): Promise<string> {
    const link = await app.inject({
      method: 'POST',
      url: `/v1/notebooks/${id}/login-url`,
      headers: as(user),
    });
    expect(link.statusCode, link.body).toBe(200);
    const { url, path } = link.json() as { url: string; path: string };
    expect(url).toBe(`http://127.0.0.1:${port}${path}`);
    const page = await fetch(url, { redirect: 'manual' });
    expect(page.status).toBe(200);
    const setCookie = page.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(
      new RegExp(`^aicloud_nb=[^;]+; Path=/notebooks/${id}/; Max-Age=\\d+; HttpOnly; SameSite=Strict$`),
    );
    // One time only.
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(401);
    return setCookie.split(';')[0]!;
  }

  const viaProxy = (id: string, cookie: string): JupyterEndpoint => ({
    host: '127.0.0.1',
    port,
    basePath: `/notebooks/${id}/`,
    headers: { cookie },
  });

  async function tickFor(ms: number, each?: () => Promise<void>) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await each?.();
      await platform.notebooks.tick();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  it('serves the notebook only to its team: 401 without credentials, 404 for another team, 200 through the proxy', async () => {
    const notebook = await create('alice', { product: 'notebook-short', name: 'team-only' });
    expect(notebook).toMatchObject({ status: 'running', team: 'legal-rag', owner: 'alice', warning: null });
    const row = await platform.store.db
      .selectFrom('notebooks')
      .selectAll()
      .where('id', '=', notebook.id)
      .executeTakeFirstOrThrow();
    const jupyterToken =
      platform.config &&
      (await platform.notebooks.authorizeProxy(notebook.id, { bearer: tokens.alice })).token;
    const base = `http://127.0.0.1:${port}/notebooks/${notebook.id}`;
    expect((await fetch(`${base}/api/status`)).status).toBe(401);
    expect(
      (await fetch(`${base}/api/status`, { headers: { cookie: 'aicloud_nb=usr_x.99999999999999.forged' } }))
        .status,
    ).toBe(401);
    expect((await fetch(`${base}/api/status`, { headers: as('carol') })).status).toBe(404);
    expect(
      (await app.inject({ method: 'GET', url: `/v1/notebooks/${notebook.id}`, headers: as('carol') }))
        .statusCode,
    ).toBe(404);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: `/v1/notebooks/${notebook.id}/login-url`,
          headers: as('carol'),
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (await app.inject({ method: 'POST', url: `/v1/notebooks/${notebook.id}/stop`, headers: as('carol') }))
        .statusCode,
    ).toBe(404);
    expect((await fetch(`${base}/api/status`, { headers: as('alice') })).status).toBe(200);
    const cookie = await login(notebook.id);
    const status = await fetch(`${base}/api/status`, { headers: { cookie } });
    expect(status.status).toBe(200);
    expect(await status.json()).toHaveProperty('last_activity');
    // The Jupyter UI works through the proxy and never shows Jupyter's token; the API never returns it.
    const tree = await fetch(`${base}/tree`, { headers: { cookie } });
    expect(tree.status).toBe(200);
    const html = await tree.text();
    expect(html).toContain('<html');
    expect(html).not.toContain(jupyterToken);
    expect(tree.headers.get('set-cookie') ?? '').not.toMatch(/username-/);
    const got = await app.inject({
      method: 'GET',
      url: `/v1/notebooks/${notebook.id}`,
      headers: as('alice'),
    });
    expect(got.body).not.toContain(jupyterToken);
    expect(got.body).not.toContain(row.token_sealed);
    // A cookie for one notebook does not open another.
    const other = await create('bob', { product: 'notebook-short', name: 'bobs' });
    expect(
      (await fetch(`http://127.0.0.1:${port}/notebooks/${other.id}/api/status`, { headers: { cookie } }))
        .status,
    ).toBe(401);
    // Kernels work over the proxied websocket.
    const run = await runInKernel(viaProxy(notebook.id, cookie), 'print(6 * 7)');
    expect(run).toMatchObject({ error: null, stdout: '42\n' });
    await expect(
      openWebSocket(viaProxy(notebook.id, ''), `api/kernels/${run.kernelId}/channels`),
    ).rejects.toMatchObject({
      status: 401,
    });
    await expect(
      openWebSocket(
        { ...viaProxy(notebook.id, cookie), headers: { cookie, origin: 'http://evil.example' } },
        `api/kernels/${run.kernelId}/channels`,
      ),
    ).rejects.toMatchObject({ status: 403 });
    for (const id of [notebook.id, other.id]) {
      const owner = id === notebook.id ? 'alice' : 'bob';
      const stopped = await app.inject({
        method: 'POST',
        url: `/v1/notebooks/${id}/stop`,
        headers: as(owner),
      });
      expect(stopped.statusCode, stopped.body).toBe(200);
    }
    expect((await fetch(`${base}/api/status`, { headers: { cookie } })).status).toBe(503);
  }, 60_000);

  it('culls an idle notebook after a warning, keeps one used through the proxy, snoozes, and stop keeps files', async () => {
    const idle = await create('alice', { product: 'notebook-short', name: 'idle' });
    const active = await create('alice', { product: 'notebook-short', name: 'active' });
    const cookie = await login(active.id);
    const saved = await httpCall(viaProxy(active.id, cookie), 'PUT', 'api/contents/kept.txt', {
      type: 'file',
      format: 'text',
      content: 'still here',
    });
    expect(saved.status, saved.body).toBe(201);
    let warned: Notebook['warning'] = null;
    await tickFor(13_000, async () => {
      // Traffic through the proxy is activity.
      expect(
        (await fetch(`http://127.0.0.1:${port}/notebooks/${active.id}/api/status`, { headers: { cookie } }))
          .status,
      ).toBe(200);
      const list = await app.inject({
        method: 'GET',
        url: '/v1/notebooks?status=running',
        headers: as('alice'),
      });
      const seen = (list.json().items as Notebook[]).find((item) => item.id === idle.id);
      if (seen?.warning) warned ??= seen.warning;
    });
    const culled = (
      await app.inject({ method: 'GET', url: `/v1/notebooks/${idle.id}`, headers: as('alice') })
    ).json() as Notebook;
    expect(culled).toMatchObject({ status: 'stopped', stopReason: 'idle' });
    expect(warned).toMatchObject({ kind: 'idle' });
    expect(Date.parse(warned!.at)).toBeLessThan(Date.parse(culled.stoppedAt!));
    const kept = (
      await app.inject({ method: 'GET', url: `/v1/notebooks/${active.id}`, headers: as('alice') })
    ).json() as Notebook;
    expect(kept.status).toBe('running');
    expect(Date.parse(kept.idleDeadline!)).toBeGreaterThan(Date.now() + 5_000);
    const audit = await app.inject({
      method: 'GET',
      url: '/v1/audit?action=notebook.*',
      headers: as('admin'),
    });
    const actions = (audit.json().items as { action: string; resource: string }[])
      .filter((record) => record.resource === `notebook/${idle.id}`)
      .map((record) => record.action);
    expect(actions).toEqual(
      expect.arrayContaining(['notebook.idle_warning', 'notebook.idle_stop', 'notebook.stopped']),
    );
    // Snooze: one idle timeout past the current deadline; another team cannot.
    expect(
      (await app.inject({ method: 'POST', url: `/v1/notebooks/${active.id}/snooze`, headers: as('carol') }))
        .statusCode,
    ).toBe(404);
    const snoozed = await app.inject({
      method: 'POST',
      url: `/v1/notebooks/${active.id}/snooze`,
      headers: as('alice'),
    });
    expect(snoozed.statusCode, snoozed.body).toBe(200);
    const expected = Math.min(Date.parse(kept.idleDeadline!) + 10_000, Date.parse(kept.maxLifetimeAt!));
    expect(Date.parse(snoozed.json().snoozedUntil)).toBeGreaterThanOrEqual(expected - 1000);
    expect(Date.parse(snoozed.json().snoozedUntil)).toBeLessThanOrEqual(Date.parse(kept.maxLifetimeAt!));
    // Stop keeps the files.
    const stopped = await app.inject({
      method: 'POST',
      url: `/v1/notebooks/${active.id}/stop`,
      headers: as('alice'),
    });
    expect(stopped.json()).toMatchObject({ status: 'stopped', stopReason: 'user' });
    expect(stopped.json().cost).toBeGreaterThan(0);
    expect(readFileSync(join(platform.dataDir, 'notebooks', active.id, 'files', 'kept.txt'), 'utf8')).toBe(
      'still here',
    );
  }, 60_000);

  describe('egress blocked', () => {
    let hostServer: Server;
    let hostPort: number;
    beforeAll(async () => {
      if (!haveNamespaces)
        throw new Error(
          'egress-blocked notebooks need network namespaces: run `npm test` as root with iproute2 installed',
        );
      hostServer = createServer((socket) => socket.on('error', () => undefined).end('host only\n'));
      await new Promise<void>((resolve) => hostServer.listen(0, '127.0.0.1', resolve));
      hostPort = (hostServer.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => hostServer?.close(resolve));
    });

    it('works through the proxy while the host 127.0.0.1 is unreachable from its kernel', async () => {
      const notebook = await create('alice', { product: 'notebook-gpu', gpus: 0 });
      expect(notebook.egress).toBe('blocked');
      const row = await platform.store.db
        .selectFrom('notebooks')
        .selectAll()
        .where('id', '=', notebook.id)
        .executeTakeFirstOrThrow();
      expect(row.host).toMatch(/^10\.231\./);
      const routes = execFileSync('ip', ['netns', 'exec', row.netns!, 'ip', 'route'], { encoding: 'utf8' });
      expect(routes).not.toMatch(/default/);
      const cookie = await login(notebook.id);
      const status = await fetch(`http://127.0.0.1:${port}/notebooks/${notebook.id}/api/status`, {
        headers: { cookie },
      });
      expect(status.status).toBe(200);
      const result = await runInKernel(
        viaProxy(notebook.id, cookie),
        [
          'import socket',
          's = socket.socket()',
          's.settimeout(3)',
          'try:',
          `    s.connect(("127.0.0.1", ${hostPort}))`,
          '    print("connected")',
          'except OSError as e:',
          '    print("failed", e.errno)',
        ].join('\n'),
      );
      expect(result.error).toBeNull();
      expect(result.stdout).toMatch(/^failed \d+/);
      const stopped = await app.inject({
        method: 'POST',
        url: `/v1/notebooks/${notebook.id}/stop`,
        headers: as('alice'),
      });
      expect(stopped.json().status).toBe('stopped');
      expect(existsSync(`/run/netns/${row.netns}`)).toBe(false);
    }, 60_000);
  });
});
