import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Notebook } from '@aicloud/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AppError } from '../app-error.ts';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { namespaceExists, namespaceSupport, netnsNames, removeNamespace } from './notebook-netns.ts';
import { createNotebookService, JUPYTER_BINARY } from './notebook-service.ts';
import { httpCall, type JupyterEndpoint, runInKernel } from './testing/kernel-client.ts';

// These tests never skip: without Jupyter (or, for egress blocking, network namespaces) they fail, naming the fix.
const haveJupyter = existsSync(JUPYTER_BINARY);
const namespaces = namespaceSupport();
function needJupyter(): void {
  if (!haveJupyter)
    throw new Error(
      `Jupyter is missing (${JUPYTER_BINARY}): run \`npm test\` as root (its pretest installs Debian's ` +
        'jupyter-notebook) or `sudo apt-get install jupyter-notebook`',
    );
}
function needNamespaces(): void {
  if (!namespaces.ok)
    throw new Error(
      `egress-blocked notebooks cannot run here: ${namespaces.reason} (run \`npm test\` as root)`,
    );
}
const pgUrl = inject('pgUrl');

/** A notebook product with a short life, for tests: egress allowed, 10 s idle, 25 s at most. */
const shortProduct = {
  name: 'notebook-short',
  kind: 'notebook',
  description: 'test notebook',
  gpu: { types: [], min: 0, max: 0 },
  cpus: 1,
  memoryGiB: 1,
  maxDuration: '25s',
  idleDuration: '10s',
  egress: 'allowed',
  spotPolicy: 'on-demand',
  graceSeconds: 5,
  prices: { cpu: { onDemand: 36, spot: 10 } },
  executor: 'local',
};

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** Jupyter servers started under a data dir (other test files run their own at the same time). */
function listeningPids(dataDir: string): Set<number> {
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

describe('notebooks (real Jupyter)', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;
  let carol: Actor;
  let admin: Actor;

  beforeAll(async () => {
    needJupyter();
    platform = await createTestPlatform('sqlite', null);
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    const actorFor = async (user: string): Promise<Actor> => ({
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    });
    alice = await actorFor('alice');
    carol = await actorFor('carol');
    admin = await actorFor('admin');
    await platform.catalog.put(admin, shortProduct);
  });

  afterAll(async () => {
    if (!platform) return;
    await platform.notebooks.stopAll('test teardown');
    const namespaces = await platform.store.db
      .selectFrom('notebooks')
      .select('id')
      .where('netns', 'is not', null)
      .execute();
    await platform.dispose();
    // Nothing of ours may survive: no Jupyter, no namespace, no veth.
    const leftover = [...listeningPids(platform.dataDir)];
    for (const pid of leftover) process.kill(pid, 'SIGKILL');
    const leftoverNamespaces = namespaces
      .map((row) => netnsNames(row.id))
      .filter((names) => namespaceExists(names.namespace));
    for (const names of leftoverNamespaces) await removeNamespace(names);
    expect(leftover).toEqual([]);
    expect(leftoverNamespaces).toEqual([]);
  });

  const rowOf = (id: string) =>
    platform.store.db.selectFrom('notebooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  async function direct(id: string, actor: Actor): Promise<JupyterEndpoint> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    const target = await platform.notebooks.authorizeProxy(id, {
      bearer: credentials[actor.principal.userName].token,
    });
    return {
      host: target.host,
      port: target.port,
      basePath: `/notebooks/${id}/`,
      headers: { authorization: `token ${target.token}` },
    };
  }

  async function auditActions(id: string): Promise<string[]> {
    const rows = await platform.store.db
      .selectFrom('audit_records')
      .select('action')
      .where('resource', '=', `notebook/${id}`)
      .orderBy('seq')
      .execute();
    return rows.map((row) => row.action);
  }

  it('culls an idle notebook after a warning, keeps an active one until its max lifetime, and meters both', async () => {
    const idle = await platform.notebooks.create(alice, { product: 'notebook-short', name: 'idle-one' });
    const active = await platform.notebooks.create(alice, { product: 'notebook-short', name: 'active-one' });
    expect(idle.status).toBe('running');
    expect(idle.egress).toBe('allowed');
    expect(idle.idleTimeoutSeconds).toBe(10);
    expect(JSON.stringify(idle)).not.toContain((await rowOf(idle.id)).token_sealed);
    const startedAt = Date.parse(idle.startedAt!);
    let warnedSeenAt: number | null = null;
    let idleStoppedAt: number | null = null;
    let last: Notebook = idle;
    while (Date.now() - startedAt < 40_000) {
      platform.notebooks.touch(active.id); // traffic through the proxy
      await platform.notebooks.tick();
      last = await platform.notebooks.get(alice, idle.id);
      if (last.warning && warnedSeenAt === null) warnedSeenAt = Date.now();
      if (last.status === 'stopped' && idleStoppedAt === null) idleStoppedAt = Date.now();
      const other = await platform.notebooks.get(alice, active.id);
      if (idleStoppedAt && (other.status === 'stopped' || other.status === 'failed')) break;
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    await platform.notebooks.idle();
    // The idle one: warned, then stopped as idle after about 10 s.
    const culled = await platform.notebooks.get(alice, idle.id);
    expect(culled.status).toBe('stopped');
    expect(culled.stopReason).toBe('idle');
    expect(warnedSeenAt).not.toBeNull();
    expect(idleStoppedAt).not.toBeNull();
    expect(warnedSeenAt!).toBeLessThan(idleStoppedAt!);
    const culledAfter = Date.parse(culled.stoppedAt!) - startedAt;
    expect(culledAfter).toBeGreaterThanOrEqual(10_000);
    expect(culledAfter).toBeLessThan(20_000);
    const idleActions = await auditActions(idle.id);
    expect(idleActions).toEqual([
      'notebook.created',
      'notebook.started',
      'notebook.idle_warning',
      'notebook.idle_stop',
      'notebook.stopped',
    ]);
    // The active one was never culled for idleness, and stopped at its max lifetime of 25 s.
    const kept = await platform.notebooks.get(alice, active.id);
    expect(kept.status).toBe('stopped');
    expect(kept.stopReason).toBe('max_lifetime');
    const keptFor = Date.parse(kept.stoppedAt!) - Date.parse(kept.startedAt!);
    expect(keptFor).toBeGreaterThanOrEqual(25_000);
    const activeActions = await auditActions(active.id);
    expect(activeActions).not.toContain('notebook.idle_stop');
    expect(activeActions).toContain('notebook.lifetime_warning');
    expect(activeActions).toContain('notebook.lifetime_stop');
    // Metered into the ledger under notebooks, at the product's price ($36/h = $0.01/s).
    const usage = await platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('source_id', '=', active.id)
      .execute();
    expect(usage.every((row) => row.category === 'notebooks' && row.source_kind === 'notebook')).toBe(true);
    const metered = usage.reduce((sum, row) => sum + row.cost_micros, 0);
    expect(metered).toBe(Math.round(kept.cost * 1_000_000));
    expect(kept.cost).toBeGreaterThan(0.24);
    expect(kept.cost).toBeLessThan(0.4);
    expect(listeningPids(platform.dataDir).size).toBe(0);
  }, 60_000);

  it('snoozes by one idle timeout, never past the max lifetime, and audits it', async () => {
    const notebook = await platform.notebooks.create(alice, { product: 'notebook-short' });
    const first = await platform.notebooks.snooze(alice, notebook.id);
    expect(Date.parse(first.snoozedUntil!)).toBeGreaterThanOrEqual(
      Date.parse(notebook.idleDeadline!) + 10_000 - 50,
    );
    expect(first.idleDeadline).toBe(first.snoozedUntil);
    const second = await platform.notebooks.snooze(alice, notebook.id);
    // 25 s max lifetime: the second snooze is cut at it, a third is refused.
    expect(second.idleDeadline).toBe(second.maxLifetimeAt);
    const third = await refusal(platform.notebooks.snooze(alice, notebook.id));
    expect(third.code).toBe('conflict');
    expect(third.message).toMatch(/max lifetime/);
    expect((await refusal(platform.notebooks.snooze(carol, notebook.id))).code).toBe('not_found');
    const actions = await auditActions(notebook.id);
    expect(actions.filter((action) => action === 'notebook.snoozed')).toHaveLength(2);
    const stopped = await platform.notebooks.stop(alice, notebook.id);
    expect(stopped.status).toBe('stopped');
  }, 30_000);

  it('stops on request and keeps the files; another team sees nothing', async () => {
    const notebook = await platform.notebooks.create(alice, {
      product: 'notebook-short',
      name: 'keeps-files',
    });
    const endpoint = await direct(notebook.id, alice);
    const saved = await httpCall(endpoint, 'PUT', 'api/contents/hello.txt', {
      type: 'file',
      format: 'text',
      content: 'kept across stops',
    });
    expect(saved.status).toBe(201);
    for (const attempt of [
      platform.notebooks.get(carol, notebook.id),
      platform.notebooks.stop(carol, notebook.id),
      platform.notebooks.loginUrl(carol, notebook.id),
    ]) {
      expect((await refusal(attempt)).code).toBe('not_found');
    }
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    expect(
      (await refusal(platform.notebooks.authorizeProxy(notebook.id, { bearer: credentials.carol.token })))
        .code,
    ).toBe('not_found');
    expect(await platform.notebooks.list(carol)).toEqual([]);
    const stopped = await platform.notebooks.stop(alice, notebook.id);
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'user' });
    const row = await rowOf(notebook.id);
    expect(readFileSync(join(row.work_dir, 'hello.txt'), 'utf8')).toBe('kept across stops');
    expect(await auditActions(notebook.id)).toEqual([
      'notebook.created',
      'notebook.started',
      'notebook.stop',
      'notebook.stopped',
    ]);
    expect((await refusal(platform.notebooks.stop(alice, notebook.id))).code).toBe('conflict');
    expect(
      (await refusal(platform.notebooks.authorizeProxy(notebook.id, { bearer: credentials.alice.token })))
        .code,
    ).toBe('unavailable');
  }, 30_000);

  it('refuses products that are not notebooks, GPU counts outside the product, and an exhausted budget', async () => {
    expect((await refusal(platform.notebooks.create(alice, { product: 'fine-tune' }))).code).toBe(
      'invalid_input',
    );
    expect((await refusal(platform.notebooks.create(alice, { product: 'notebook-gpu', gpus: 2 }))).code).toBe(
      'invalid_input',
    );
    await platform.store.db
      .updateTable('budgets')
      .set({ max_budget_micros: 0 })
      .where('team', '=', 'search')
      .execute();
    const refused = await refusal(platform.notebooks.create(carol, { product: 'notebook-short' }));
    expect(refused.code).toBe('budget_exceeded');
  });

  it('refuses an egress-blocked product where namespaces are unavailable, saying why', async () => {
    const service = createNotebookService({
      store: platform.store,
      audit: platform.audit,
      clock: platform.clock,
      catalog: platform.catalog,
      identity: platform.identity,
      authorizer: platform.authorizer,
      executor: {
        name: 'none',
        start: async () => {
          throw new Error('must not start');
        },
        cancel: async () => {},
        status: () => undefined,
        reattach: async () => {
          throw new Error('no');
        },
        onEvent: () => () => {},
        shutdown: async () => {},
      },
      dataDir: platform.dataDir,
      box: { seal: (text) => text, open: (text) => text },
      serverUrl: () => 'http://127.0.0.1:1',
      namespaceSupport: () => ({ ok: false, reason: 'the server does not run as root' }),
    });
    const refused = await refusal(service.create(alice, { product: 'notebook-gpu', gpus: 0 }));
    expect(refused.code).toBe('unavailable');
    expect(refused.message).toContain('the server does not run as root');
    expect(refused.details).toMatchObject({ reason: 'the server does not run as root' });
    await service.close();
  });

  describe('egress blocked (network namespace)', () => {
    let hostServer: Server;
    let hostPort: number;

    beforeAll(async () => {
      needNamespaces();
      hostServer = createServer((socket) => socket.on('error', () => undefined).end('hello from the host\n'));
      await new Promise<void>((resolve) => hostServer.listen(0, '127.0.0.1', resolve));
      hostPort = (hostServer.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => hostServer?.close(resolve));
    });

    it('has no default route, cannot reach the host (127.0.0.1 or its veth end) from a kernel, and works through its veth', async () => {
      const notebook = await platform.notebooks.create(alice, { product: 'notebook-gpu', gpus: 0 });
      expect(notebook).toMatchObject({ status: 'running', egress: 'blocked' });
      const row = await rowOf(notebook.id);
      const names = netnsNames(notebook.id);
      expect(row.netns).toBe(names.namespace);
      expect(namespaceExists(names.namespace)).toBe(true);
      const routes = execFileSync('ip', ['netns', 'exec', names.namespace, 'ip', 'route'], {
        encoding: 'utf8',
      });
      expect(routes).not.toMatch(/default/);
      expect(routes).toMatch(/^10\.231\.\d+\.\d+\/30 dev aicn-/m);
      // A routing lookup for any outside address fails inside (no packet is sent).
      expect(() =>
        execFileSync('ip', ['netns', 'exec', names.namespace, 'ip', 'route', 'get', '192.0.2.1'], {
          stdio: 'pipe',
        }),
      ).toThrow(/unreachable/i);
      // The minimal proof: a connection to the host's 127.0.0.1 server fails from inside the namespace.
      const probe = `import socket\ns=socket.socket()\ns.settimeout(3)\ntry:\n    s.connect(("127.0.0.1", ${hostPort}))\n    print("connected")\nexcept OSError as e:\n    print("refused", e.errno)\n`;
      const inside = execFileSync('ip', ['netns', 'exec', names.namespace, 'python3', '-c', probe], {
        encoding: 'utf8',
      });
      expect(inside.trim()).toMatch(/^refused/);
      // The kernel-level proof, over Jupyter's REST and websocket API: the host's 127.0.0.1 is unreachable,
      // and so is the host end of the veth, even for a server bound on it; the proxy still reaches Jupyter.
      const hostEnd = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', names.hostIf], {
        encoding: 'utf8',
      });
      const hostAddress = /inet (\d+\.\d+\.\d+\.\d+)/.exec(hostEnd)?.[1];
      expect(hostAddress).toMatch(/^10\.231\./);
      const peer = createServer((socket) => socket.on('error', () => undefined).end('peer\n'));
      await new Promise<void>((resolve) => peer.listen(0, hostAddress, resolve));
      const peerPort = (peer.address() as { port: number }).port;
      try {
        const code = [
          'import socket',
          'def probe(host, port):',
          '    s = socket.socket()',
          '    s.settimeout(3)',
          '    try:',
          '        s.connect((host, port))',
          '        return "connected"',
          '    except OSError as e:',
          '        return "failed:%s" % e.errno',
          '    finally:',
          '        s.close()',
          `print("loopback", probe("127.0.0.1", ${hostPort}))`,
          `print("hostend", probe("${hostAddress}", ${hostPort}))`,
          `print("peer", probe("${hostAddress}", ${peerPort}))`,
          'import subprocess',
          'print("addroute", subprocess.run(["ip", "route", "add", "default", "dev", "lo"], capture_output=True).returncode)',
          // The kernel is member code: the platform's files and other processes do not exist for it.
          'import os',
          'print("uid", os.getuid())',
          'def tryread(label, path):',
          '    try:',
          '        open(path, "rb").read(1)',
          '        print("LEAK", label)',
          '    except OSError:',
          '        pass',
          `for label, path in [("secret.key", "${join(platform.dataDir, 'secret.key')}"), ("credentials", "${join(platform.dataDir, 'credentials.json')}"), ("store", "${join(platform.dataDir, 'aicloud.db')}")]:`,
          '    tryread(label, path)',
          `print("datadir", sorted(os.listdir("${platform.dataDir}")))`,
          'print("procs", len([p for p in os.listdir("/proc") if p.isdigit()]))',
        ].join('\n');
        const result = await runInKernel(await direct(notebook.id, alice), code);
        expect(result.error).toBeNull();
        expect(result.stdout).toMatch(/^loopback failed:\d+$/m);
        // The host firewall drops what a notebook starts towards the host end of its veth (errno or a
        // timeout): a host service bound to 0.0.0.0 or to that address is out of reach.
        expect(result.stdout).toMatch(/^hostend failed:\S+$/m);
        expect(result.stdout).toMatch(/^peer failed:\S+$/m);
        // Even root inside cannot add a route: the capability was dropped.
        expect(result.stdout).toMatch(/^addroute [1-9]\d*$/m);
        expect(result.stdout).not.toContain('LEAK');
        expect(result.stdout).not.toMatch(/^uid 0$/m);
        expect(result.stdout).toContain("datadir ['notebooks']");
        // Jupyter, its kernel and this code's own process, under the sandbox's init: nothing of the host.
        expect(Number(/^procs (\d+)$/m.exec(result.stdout)?.[1])).toBeLessThanOrEqual(6);
      } finally {
        await new Promise((resolve) => peer.close(resolve));
      }
      await platform.notebooks.stop(alice, notebook.id);
      expect(namespaceExists(names.namespace)).toBe(false);
      expect(existsSync(`/sys/class/net/${names.hostIf}`)).toBe(false);
    }, 60_000);
  });
});

describe.each(storeTargets(pgUrl))('notebook records on %s', (target) => {
  beforeAll(needJupyter);
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  afterEach(async () => {
    await platform?.notebooks.stopAll('test teardown');
    await platform?.dispose();
  });

  it('creates, lists, snoozes (policy-checked against the budget) and stops', async () => {
    platform = await createTestPlatform(target, pgUrl);
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    const actorFor = async (user: string): Promise<Actor> => ({
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    });
    const alice = await actorFor('alice');
    const bob = await actorFor('bob');
    await platform.catalog.put(await actorFor('admin'), {
      ...shortProduct,
      maxDuration: '10m',
      idleDuration: '5m',
    });
    const notebook = await platform.notebooks.create(alice, { product: 'notebook-short', idleTimeout: '2m' });
    expect(notebook).toMatchObject({ status: 'running', idleTimeoutSeconds: 120, maxLifetimeSeconds: 600 });
    expect((await platform.notebooks.list(bob)).map((item) => item.id)).toEqual([notebook.id]);
    expect(await platform.notebooks.list(alice, { status: 'stopped' })).toEqual([]);
    const snoozed = await platform.notebooks.snooze(alice, notebook.id);
    expect(Date.parse(snoozed.idleDeadline!)).toBeGreaterThan(Date.parse(notebook.idleDeadline!) + 110_000);
    await platform.store.db
      .updateTable('budgets')
      .set({ max_budget_micros: 0 })
      .where('team', '=', 'legal-rag')
      .execute();
    const denied = await refusal(platform.notebooks.snooze(alice, notebook.id));
    expect(denied.code).toBe('policy_denied');
    expect(denied.details).toMatchObject({ rule: 'budget-exhausted' });
    // A manager of the team may stop a member's notebook.
    const stopped = await platform.notebooks.stop(bob, notebook.id);
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'user' });
    expect(stopped.cost).toBeGreaterThan(0);
    const records = await platform.store.db
      .selectFrom('audit_records')
      .select(['action', 'actor', 'outcome'])
      .where('resource', '=', `notebook/${notebook.id}`)
      .orderBy('seq')
      .execute();
    expect(records.map((record) => `${record.action}:${record.actor}:${record.outcome}`)).toEqual([
      'notebook.created:alice:success',
      'notebook.started:system:success',
      'notebook.snoozed:alice:success',
      'notebook.snooze:alice:deny',
      'notebook.stop:bob:success',
      'notebook.stopped:system:success',
    ]);
  }, 30_000);
});
