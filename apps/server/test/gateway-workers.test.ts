import cluster from 'node:cluster';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/start-server.ts';
import { tinyModelServer } from './tiny-model.ts';

// `aicloud up --gateway-workers 3`: the data plane served by three worker processes on their own port, every
// request admitted by the server's process, so that quotas, rate limits and budgets hold across workers.
let server: RunningServer;
let gateway: string;
let alice: Client;
let admin: Client;
let adminToken: string;
let key: string;

beforeAll(async () => {
  const started = await tinyModelServer('aicloud-gateway-workers-', { gatewayWorkers: 3, gatewayPort: 0 });
  server = started.server;
  gateway = server.gatewayUrl ?? '';
  alice = createClient({ url: server.url, token: started.tokens.alice.token });
  adminToken = started.tokens.admin.token;
  admin = createClient({ url: server.url, token: adminToken });
  await alice.models.register({ name: 'legal-answerer', source: `path:${join(started.work, 'model')}` });
  await alice.endpoints.deploy({ model: 'legal-answerer', version: 1, minReplicas: 1 });
  key = (await alice.keys.create({ endpoint: 'legal-answerer', name: 'tests' })).key;
}, 180_000);
afterAll(async () => {
  await alice?.endpoints.delete('legal-answerer').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await server?.stop();
});

/** A key of the endpoint with a period quota of `quota` tokens. */
const quotaKey = (name: string, quota: number) =>
  alice.keys.create({ endpoint: 'legal-answerer', name, maxTokensPerPeriod: quota, period: '30d' });

/** The pids of the gateway workers (this test's process is their primary). */
const workerPids = () => Object.values(cluster.workers ?? {}).map((worker) => worker?.process.pid);

/** A chat completion through the workers' port, on a connection of its own (so the workers share them out). */
async function ask(apiKey: string, maxTokens: number, extra: Record<string, unknown> = {}) {
  const response = await fetch(`${gateway}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({
      model: 'legal-answerer',
      max_tokens: maxTokens,
      messages: [{ role: 'user', content: 'What is arbitration?' }],
      ...extra,
    }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

/**
 * The tokens metered for a key, once at least `expected` are: a worker settles a request with the server
 * just after its answer's last byte, so the client may read the answer first.
 */
async function meteredTokens(keyId: string, expected: number): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    await server.platform.gateway.flush();
    const rows = await server.platform.store.db
      .selectFrom('usage_ledger')
      .select('quantity')
      .where('unit', '=', 'token')
      .where('project', '=', keyId)
      .execute();
    const metered = rows.reduce((sum, row) => sum + row.quantity, 0);
    if (metered >= expected || Date.now() > deadline) return metered;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('gateway workers', () => {
  it('run as separate processes on their own port and serve the openai SDK, streaming included', async () => {
    expect(gateway).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway).not.toBe(server.url);
    expect(workerPids()).toHaveLength(3);
    expect(workerPids()).not.toContain(process.pid);
    // They yield the CPU to this process (the control plane and their admission): nice +5, every thread.
    const niceness = (pid: number | undefined, thread: string) =>
      Number(readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]);
    const own = niceness(process.pid, String(process.pid));
    for (const pid of workerPids())
      for (const thread of readdirSync(`/proc/${pid}/task`))
        expect(niceness(pid, thread)).toBe(Math.min(19, own + 5));
    const openai = new OpenAI({ baseURL: `${gateway}/v1`, apiKey: key, maxRetries: 0 });
    const answer = await openai.chat.completions.create({
      model: 'legal-answerer',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'What is a notice clause?' }],
    });
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
    const stream = await openai.chat.completions.create({
      model: 'legal-answerer',
      max_tokens: 8,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'What is a notice clause?' }],
    });
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    // What the workers do not serve themselves reaches the server: the key's models, health, the platform API.
    expect((await openai.models.list()).data.map((model) => model.id)).toEqual(['legal-answerer']);
    expect((await fetch(`${gateway}/healthz`)).status).toBe(200);
    // The metrics live in the server's process, the workers' requests included.
    const metrics = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })
    ).text();
    expect(metrics).toMatch(/gen_ai_server_request_duration_count\{[^}]*legal-answerer[^}]*\} [1-9]/);
    // A refusal made in a worker is OpenAI's, with its headers.
    const wrong = await ask('sk-aic-not-a-key', 4);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_api_key');
    expect(wrong.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('pass a websocket upgrade to the server, bytes both ways', async () => {
    /** The raw answer to a websocket upgrade of a notebook's kernel channel, sent to `origin`. */
    const upgrade = (origin: string) =>
      new Promise<string>((resolve, reject) => {
        const { hostname, port } = new URL(origin);
        const socket = connect(Number(port), hostname, () =>
          socket.write(
            'GET /notebooks/nb-nope/api/kernels/k/channels HTTP/1.1\r\n' +
              `Host: ${hostname}:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
              'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
          ),
        );
        let answer = '';
        socket.on('data', (chunk) => {
          answer += chunk;
        });
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    const direct = await upgrade(server.url);
    // No such notebook: the notebook proxy refuses on the raw socket, and the worker relays exactly that.
    expect(direct).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(await upgrade(gateway)).toBe(direct);
  });

  it('holds a key’s quota across workers under concurrent load, and meters exactly what was served', async () => {
    const quota = 120;
    const created = await quotaKey('quota', quota);
    let served = 0;
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => ask(created.key, 8)));
    for (const outcome of outcomes) {
      if (outcome.status === 200) served += outcome.body.usage.total_tokens;
      else {
        expect(outcome.status, JSON.stringify(outcome.body)).toBe(429);
        expect(outcome.body.error.code).toBe('insufficient_quota');
      }
    }
    expect(outcomes.filter((outcome) => outcome.status === 200).length).toBeGreaterThan(0);
    expect(outcomes.some((outcome) => outcome.status === 429)).toBe(true);
    expect(served).toBeLessThanOrEqual(quota);
    // On, until the quota holds no more: refused for good.
    let last = await ask(created.key, 8);
    for (let tries = 0; last.status === 200 && tries < 20; tries += 1) {
      served += last.body.usage.total_tokens;
      last = await ask(created.key, 8);
    }
    expect(last.status).toBe(429);
    expect(last.headers.get('x-should-retry')).toBe('false');
    expect(served).toBeLessThanOrEqual(quota);
    expect(await meteredTokens(created.id, served)).toBe(served);
  });

  it('holds a key’s requests per minute across workers', async () => {
    const created = await alice.keys.create({ endpoint: 'legal-answerer', name: 'rpm', rpm: 7 });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => ask(created.key, 2)));
    const statuses = outcomes.map((outcome) => outcome.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(7);
    expect(statuses.filter((status) => status === 429)).toHaveLength(13);
    const refused = outcomes.find((outcome) => outcome.status === 429);
    expect(refused?.body.error.code).toBe('rate_limit_exceeded');
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses a revoked key at once, in every worker', async () => {
    const created = await alice.keys.create({ endpoint: 'legal-answerer', name: 'revoked' });
    const before = await Promise.all(Array.from({ length: 6 }, () => ask(created.key, 2)));
    expect(before.map((outcome) => outcome.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await alice.keys.revoke(created.id);
    const after = await Promise.all(Array.from({ length: 6 }, () => ask(created.key, 2)));
    expect(after.map((outcome) => outcome.status)).toEqual([401, 401, 401, 401, 401, 401]);
  });

  it('gives back what a killed worker held, and replaces the worker', async () => {
    const created = await quotaKey('killed', 400);
    const pids = workerPids();
    // A long answer in flight, holding a reservation of its prompt and 300 of the 400 tokens.
    const response = await fetch(`${gateway}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'legal-answerer',
        max_tokens: 300,
        stream: true,
        messages: [{ role: 'user', content: 'Explain arbitration at length.' }],
      }),
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    // Its first tokens arrived: every worker dies now.
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    const inFlight = (async () => {
      for (;;) if ((await reader.read()).done) return;
    })().catch(() => {});
    await inFlight;
    // A new worker per killed one, on the same port.
    const deadline = Date.now() + 30_000;
    while (
      (workerPids().length < 3 || workerPids().some((pid) => pids.includes(pid))) &&
      Date.now() < deadline
    )
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(workerPids()).toHaveLength(3);
    expect(workerPids().some((pid) => pids.includes(pid))).toBe(false);
    // Answered once the new workers listen (a connection is refused until then).
    let answer: Awaited<ReturnType<typeof ask>> | undefined;
    while (!answer && Date.now() < deadline)
      answer = await ask(created.key, 200).catch(
        () => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200)),
      );
    if (!answer) throw new Error('no new worker answered within 30 s');
    // No reservation of the killed worker is left holding the quota: a leaked one (its prompt and 300
    // tokens) would leave no room for a request of 200.
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    // The request a worker died with is billed its prompt (its output is not known); never over the quota.
    const metered = await meteredTokens(created.id, answer.body.usage.total_tokens + 1);
    expect(metered).toBeGreaterThan(answer.body.usage.total_tokens);
    expect(metered).toBeLessThan(answer.body.usage.total_tokens + 50);
  });

  it('surfaces an exhausted team budget from every worker, without retry', async () => {
    await admin.budgets.set('legal-rag', { maxBudget: 0, softBudget: null });
    // The gateway reads a team's budget at most every 5 s.
    let outcomes = await Promise.all(Array.from({ length: 6 }, () => ask(key, 2)));
    for (let tries = 0; outcomes.some((outcome) => outcome.status === 200) && tries < 40; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      outcomes = await Promise.all(Array.from({ length: 6 }, () => ask(key, 2)));
    }
    for (const outcome of outcomes) {
      expect(outcome.status).toBe(429);
      expect(outcome.body.error.message).toMatch(/budget of team legal-rag is exhausted/);
      expect(outcome.headers.get('x-should-retry')).toBe('false');
    }
  });
});
