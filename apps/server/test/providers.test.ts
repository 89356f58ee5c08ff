import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProviderGateway, PLATFORM_SECRETS } from '@aicloud/core';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashKey } from '../../../packages/core/src/serving/endpoint-service.ts';
import { startTestApp, type TestApp } from './test-app.ts';

// External providers through the real openai SDK against our server, with OpenAI-compatible stubs on
// loopback that record every body they receive: nothing sensitive may ever arrive.
let test: TestApp;
let url: string;
interface Stub {
  server: Server;
  url: string;
  bodies: string[];
  status: number;
  auth: string[];
  /** Whether a stream ends with the usage chunk `stream_options.include_usage` asks for. */
  streamUsage: boolean;
  /** Streams 100 slow deltas instead (a long generation), and says whether its client went away. */
  slow: boolean;
  cancelled: boolean;
}
const stubs: Stub[] = [];
/** What the stubs stream, delta by delta, and the usage they report for it. */
const STREAMED = ['Hello', ' there', ' friend'];
const STREAM_USAGE = { prompt_tokens: 1234, completion_tokens: 567, total_tokens: 1801 };
const KEY = 'sk-aic-providertestkey0000000000';
const TEAM_SECRET = 'TeamSecretValue-9f8e7d';
const PROVIDER_KEY = 'sk-provider-upstream-key-123456';

async function startStub() {
  const stub: Stub = {
    server: createServer(),
    url: '',
    bodies: [],
    status: 200,
    auth: [],
    streamUsage: true,
    slow: false,
    cancelled: false,
  };
  stub.server.on('request', (request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      stub.bodies.push(body);
      stub.auth.push(String(request.headers.authorization));
      if (stub.status !== 200) {
        response.writeHead(stub.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: 'upstream down', type: 'server_error' } }));
        return;
      }
      const parsed = JSON.parse(body) as {
        model: string;
        stream?: boolean;
        stream_options?: { include_usage?: boolean };
      };
      const model = parsed.model;
      if (parsed.stream) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (choices: unknown[], usage: unknown = null) =>
          `data: ${JSON.stringify({ id: 'chatcmpl-stub', object: 'chat.completion.chunk', created: 1, model, choices, usage })}\n\n`;
        response.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
        if (stub.slow) {
          let sent = 0;
          const timer = setInterval(() => {
            if (sent++ === 100) {
              clearInterval(timer);
              response.end('data: [DONE]\n\n');
            } else response.write(chunk([{ index: 0, delta: { content: ' word' }, finish_reason: null }]));
          }, 20);
          response.on('close', () => {
            if (!response.writableFinished) stub.cancelled = true;
            clearInterval(timer);
          });
          return;
        }
        for (const content of STREAMED)
          response.write(chunk([{ index: 0, delta: { content }, finish_reason: null }]));
        response.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
        if (parsed.stream_options?.include_usage && stub.streamUsage) response.write(chunk([], STREAM_USAGE));
        response.end('data: [DONE]\n\n');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          id: 'chatcmpl-stub',
          object: 'chat.completion',
          created: 1,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 100_000, completion_tokens: 50_000, total_tokens: 150_000 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}/v1`;
  stubs.push(stub);
  return stub;
}

const api = (user: string, method: string, path: string, payload?: unknown) =>
  test.app.inject({ method: method as 'GET', url: path, headers: test.as(user), payload: payload as object });

beforeAll(async () => {
  test = await startTestApp();
  await test.app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(test.app.server.address() as AddressInfo).port}`;
  const [a, b] = [await startStub(), await startStub()];
  // A team key (as `aicloud keys create` makes it) to an endpoint of legal-rag.
  const db = test.platform.store.db;
  const now = new Date().toISOString();
  await db
    .insertInto('endpoints')
    .values({
      id: 'ep_prov',
      name: 'legal-answerer',
      team: 'legal-rag',
      model_id: 'mdl_x',
      model_name: 'legal-answerer',
      version: 1,
      runtime: 'aicloud-tiny',
      artifact_dir: '/nonexistent',
      product: 'endpoint-cpu',
      gpus: 0,
      gpu_type: null,
      min_replicas: 0,
      max_replicas: 1,
      target_concurrency: 1,
      idle_timeout_s: 60,
      status: 'scaled_to_zero',
      created_by: 'alice',
      created_at: now,
      deleted_at: null,
      rate_micros: 0,
    })
    .execute();
  await db
    .insertInto('endpoint_keys')
    .values({
      id: 'key_prov',
      endpoint_id: 'ep_prov',
      team: 'legal-rag',
      name: 'tests',
      prefix: KEY.slice(0, 12),
      hash: hashKey(KEY),
      rpm: null,
      tpm: null,
      max_tokens_per_period: 1_000_000,
      period: '30d',
      created_by: 'alice',
      created_at: now,
      revoked_at: null,
    })
    .execute();
  expect(
    (await api('alice', 'PUT', '/v1/teams/legal-rag/secrets/DB_PASSWORD', { value: TEAM_SECRET })).statusCode,
  ).toBe(200);
  expect(
    (await api('admin', 'PUT', `/v1/teams/${PLATFORM_SECRETS}/secrets/PROVIDER_KEY`, { value: PROVIDER_KEY }))
      .statusCode,
  ).toBe(200);
  const models = [{ name: 'gpt-4o-mini', inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }];
  for (const [name, stub, piiMode, fallbacks] of [
    ['prov-a', a, 'redact', ['prov-b/gpt-4o-mini']],
    ['prov-b', b, 'redact', []],
    ['prov-block', b, 'block', []],
  ] as const) {
    const response = await api('admin', 'POST', '/v1/providers', {
      name,
      baseUrl: stub.url,
      keySecret: 'PROVIDER_KEY',
      models: name === 'prov-b' ? [{ ...models[0], inputUsdPerMTok: 1, outputUsdPerMTok: 2 }] : models,
      piiMode,
      fallbacks,
    });
    expect(response.statusCode, response.body).toBe(201);
  }
}, 60_000);
afterAll(async () => {
  for (const stub of stubs) stub.server.close();
  await test?.close();
});
beforeEach(() => {
  for (const stub of stubs) {
    stub.bodies.length = 0;
    stub.status = 200;
    stub.streamUsage = true;
    stub.slow = false;
    stub.cancelled = false;
  }
});

const client = (apiKey = KEY) => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
const SENSITIVE = [
  'jane.roe@example.org',
  '4111 1111 1111 1111',
  'GB82 WEST 1234 5698 7654 32',
  'sk-proj-abcdefghijklmnopqrstuvwx',
  TEAM_SECRET,
];
const prompt = `Customer ${SENSITIVE[0]} paid with ${SENSITIVE[1]} from ${SENSITIVE[2]}; key ${SENSITIVE[3]}, db password ${SENSITIVE[4]}.`;
type APIError = InstanceType<typeof OpenAI.APIError>;
const refused = (caught: unknown) => caught as APIError;
const unexpected = (): APIError => {
  throw new Error('expected a refusal');
};
const received = () => stubs.flatMap((stub) => stub.bodies).join('\n');

/** The ledger rows of one provider model. */
const providerRows = (ref: string) =>
  test.platform.store.db
    .selectFrom('usage_ledger')
    .selectAll()
    .where('source_kind', '=', 'provider')
    .where('source_id', '=', ref)
    .execute();
type LedgerRow = Awaited<ReturnType<typeof providerRows>>[number];
const newRows = (before: LedgerRow[], after: LedgerRow[]) => {
  const seen = new Set(before.map((row) => row.id));
  return after.filter((row) => !seen.has(row.id));
};

/** A running job of alice's in legal-rag that mounts `datasets`, and its run token (as the runner makes it). */
async function runTokenOf(id: string, datasets: string[]): Promise<string> {
  const db = test.platform.store.db;
  const now = new Date().toISOString();
  const alice = await db
    .selectFrom('users')
    .select('id')
    .where('name', '=', 'alice')
    .executeTakeFirstOrThrow();
  return db.transaction().execute(async (trx) => {
    // Only the columns every version of the table has; the rest are nullable.
    await trx
      .insertInto('jobs')
      .values({
        id,
        name: id,
        team: 'legal-rag',
        owner: 'alice',
        product: 'train-cpu',
        kind: 'training',
        gpus: 0,
        gpu_type: null,
        spot: 0,
        datasets: JSON.stringify(datasets),
        secrets: '[]',
        command: 'true',
        executor: 'local',
        max_runtime_s: 3600,
        grace_s: 30,
        status: 'running',
        reasons: '[]',
        decision: '{}',
        estimate_micros: 0,
        reserved_micros: 0,
        cost_micros: 0,
        approval_id: null,
        gpu_indexes: '[]',
        gpu_source: null,
        exit_code: null,
        external_id: null,
        created_at: now,
        admitted_at: now,
        started_at: now,
        ended_at: null,
        metered_until: now,
        rate_micros: null,
      } as never)
      .execute();
    const created = await test.platform.identity.createTokenInTrx(trx, alice.id, {
      name: `run:${id}`,
      scope: `job:${id}`,
    });
    return created.token;
  });
}

describe('external providers through the gateway', () => {
  it('redacts every finding before forwarding (string and array parts)', async () => {
    const [a] = stubs;
    const answer = await client()
      .chat.completions.create({
        model: 'prov-a/gpt-4o-mini',
        messages: [
          { role: 'system', content: prompt },
          { role: 'user', content: [{ type: 'text', text: prompt }] },
        ],
      })
      .withResponse();
    expect(answer.data.choices[0]?.message.content).toBe('ok');
    expect(answer.response.headers.get('x-aicloud-provider')).toBe('prov-a/gpt-4o-mini');
    expect(a!.bodies).toHaveLength(1);
    for (const value of SENSITIVE) expect(received()).not.toContain(value);
    expect(a!.bodies[0]).toContain('[REDACTED:payment_card]');
    expect(a!.bodies[0]).toContain('[REDACTED:team_secret]');
    // The provider gets its own key from the platform secret, never the team's key.
    expect(a!.auth.at(-1)).toBe(`Bearer ${PROVIDER_KEY}`);
  });

  it('block mode refuses with a 400 naming the kinds, never the values', async () => {
    const error = await client()
      .chat.completions.create({
        model: 'prov-block/gpt-4o-mini',
        messages: [{ role: 'user', content: prompt }],
      })
      .then(unexpected, refused);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('sensitive_data_blocked');
    expect(error.message).toMatch(/email.*payment_card|payment_card.*email/);
    for (const value of SENSITIVE) expect(error.message).not.toContain(value);
    expect(received()).toBe('');
  });

  it('fails closed: a detector that throws refuses the request (503, no retry) and forwards nothing', async () => {
    const platform = test.platform;
    const original = platform.providerGateway;
    platform.providerGateway = createProviderGateway({
      store: platform.store,
      clock: platform.clock,
      audit: platform.audit,
      authorizer: platform.authorizer,
      identity: platform.identity,
      secrets: platform.secrets,
      providers: platform.providers,
      detector: {
        detect() {
          throw new Error('detector crashed');
        },
      },
    });
    try {
      const raw = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'prov-a/gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
      });
      expect(raw.status).toBe(503);
      expect(raw.headers.get('x-should-retry')).toBe('false');
      expect(((await raw.json()) as { error: { code: string } }).error.code).toBe('pii_check_failed');
      expect(received()).toBe('');
    } finally {
      platform.providerGateway = original;
    }
  });

  it('a confidential dataset in the request is refused by the Cedar rule (403) and nothing is forwarded', async () => {
    const error = await client()
      .chat.completions.create(
        { model: 'prov-a/gpt-4o-mini', messages: [{ role: 'user', content: 'summarise the corpus' }] },
        { headers: { 'x-aicloud-datasets': 'projects/legal-rag/datasets/v2' } },
      )
      .then(unexpected, refused);
    expect(error.status).toBe(403);
    expect(error.message).toContain('provider-no-confidential-data');
    // Another team's dataset is unknown to the caller: refused too, without saying how it is classified.
    const other = await client()
      .chat.completions.create(
        { model: 'prov-a/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-aicloud-datasets': 'projects/search/datasets/x' } },
      )
      .then(unexpected, refused);
    expect(other.status).toBe(403);
    expect(other.message).toContain('provider-known-datasets');
    expect(received()).toBe('');
  });

  it('a 500 from provider A falls back to B, which also gets redacted text, metered at B’s price', async () => {
    const [a, b] = stubs;
    a!.status = 500;
    const answer = await client()
      .chat.completions.create({ model: 'prov-a/gpt-4o-mini', messages: [{ role: 'user', content: prompt }] })
      .withResponse();
    expect(answer.response.headers.get('x-aicloud-provider')).toBe('prov-b/gpt-4o-mini');
    expect(a!.bodies).toHaveLength(1);
    expect(b!.bodies).toHaveLength(1);
    for (const value of SENSITIVE) expect(received()).not.toContain(value);
    const rows = await test.platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('source_kind', '=', 'provider')
      .where('source_id', '=', 'prov-b/gpt-4o-mini')
      .execute();
    // 100k prompt tokens at $1/M and 50k completion tokens at $2/M: 0.1 + 0.1 USD.
    expect(rows.map((row) => [row.resource, row.unit, row.rate_micros, row.cost_micros]).sort()).toEqual([
      ['tokens_in:prov-b/gpt-4o-mini', 'million_tokens', 1_000_000, 100_000],
      ['tokens_out:prov-b/gpt-4o-mini', 'million_tokens', 2_000_000, 100_000],
    ]);
    expect(rows.every((row) => row.team === 'legal-rag' && row.project === 'key_prov')).toBe(true);
  });

  it('a stream is redacted before forwarding and metered from the provider’s usage chunk', async () => {
    const [a] = stubs;
    const before = await providerRows('prov-a/gpt-4o-mini');
    const stream = await client().chat.completions.create({
      model: 'prov-a/gpt-4o-mini',
      messages: [{ role: 'user', content: prompt }],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(STREAMED.join(''));
    // The client did not ask for usage: the chunk the gateway asked for is kept from it, as OpenAI would.
    expect(chunks.every((chunk) => chunk.choices.length > 0 && !chunk.usage)).toBe(true);
    expect(a!.bodies).toHaveLength(1);
    for (const value of SENSITIVE) expect(received()).not.toContain(value);
    expect(a!.bodies[0]).toContain('[REDACTED:email]');
    expect(JSON.parse(a!.bodies[0]!).stream_options).toEqual({ include_usage: true });
    const rows = newRows(before, await providerRows('prov-a/gpt-4o-mini'));
    expect(rows.map((row) => [row.resource, row.quantity, row.rate_micros]).sort()).toEqual([
      ['tokens_in:prov-a/gpt-4o-mini', STREAM_USAGE.prompt_tokens / 1_000_000, 150_000],
      ['tokens_out:prov-a/gpt-4o-mini', STREAM_USAGE.completion_tokens / 1_000_000, 600_000],
    ]);
  });

  it('a stream without a usage chunk is metered from the content delivered, never as 0 output tokens', async () => {
    for (const stub of stubs) stub.streamUsage = false;
    const before = await providerRows('prov-a/gpt-4o-mini');
    const stream = await client().chat.completions.create({
      model: 'prov-a/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello to my friend' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello there friend');
    const rows = newRows(before, await providerRows('prov-a/gpt-4o-mini'));
    const quantity = (resource: string) =>
      Math.round((rows.find((row) => row.resource === resource)?.quantity ?? 0) * 1_000_000);
    // countTokens: 18 characters / 4 → 5 (more than the 3 deltas); the prompt counted the same way.
    expect(quantity('tokens_out:prov-a/gpt-4o-mini')).toBe(5);
    expect(quantity('tokens_in:prov-a/gpt-4o-mini')).toBeGreaterThanOrEqual(5);
  });

  it('a client that asks for usage in a stream gets the provider’s usage chunk', async () => {
    const stream = await client().chat.completions.create({
      model: 'prov-a/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usages = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toEqual([STREAM_USAGE]);
  });

  it('a client that aborts a stream cancels the provider request and is metered only for what it received', async () => {
    const [a] = stubs;
    a!.slow = true;
    const before = await providerRows('prov-a/gpt-4o-mini');
    const abort = new AbortController();
    const stream = await client().chat.completions.create(
      {
        model: 'prov-a/gpt-4o-mini',
        messages: [{ role: 'user', content: 'write a long story' }],
        stream: true,
      },
      { signal: abort.signal },
    );
    let received = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received += 1;
        if (received === 3) abort.abort();
      }
    } catch {
      // The SDK surfaces the abort.
    }
    for (let waited = 0; !a!.cancelled && waited < 3000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(a!.cancelled).toBe(true);
    let rows = newRows(before, await providerRows('prov-a/gpt-4o-mini'));
    for (let waited = 0; rows.length < 2 && waited < 3000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rows = newRows(before, await providerRows('prov-a/gpt-4o-mini'));
    }
    const out = Math.round(
      (rows.find((row) => row.resource.startsWith('tokens_out'))?.quantity ?? 0) * 1_000_000,
    );
    // 3 deltas reached the client (a few more may have been in flight), never the 100 the stub would send.
    expect(out).toBeGreaterThanOrEqual(3);
    expect(out).toBeLessThan(20);
  });

  it('a job’s run token carries the job’s confidential dataset: refused 403, nothing forwarded; a job without one is served', async () => {
    const confidential = await runTokenOf('job_provconf', ['projects/legal-rag/datasets/v2']);
    const error = await client(confidential)
      .chat.completions.create({
        model: 'prov-a/gpt-4o-mini',
        messages: [{ role: 'user', content: 'summarise' }],
      })
      .then(unexpected, refused);
    expect(error.status).toBe(403);
    expect(error.message).toContain('provider-no-confidential-data');
    expect(received()).toBe('');
    const denied = await test.platform.store.db
      .selectFrom('audit_records')
      .select(['actor', 'outcome', 'details'])
      .where('action', '=', 'provider.called')
      .where('outcome', '=', 'deny')
      .execute();
    expect(
      denied.some((row) => row.actor === 'alice' && row.details.includes('projects/legal-rag/datasets/v2')),
    ).toBe(true);
    // The same caller with a job that mounts nothing restricted is served, billed to the job.
    const plain = await runTokenOf('job_provplain', []);
    const answer = await client(plain).chat.completions.create({
      model: 'prov-a/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.choices[0]?.message.content).toBe('ok');
    const billed = await test.platform.store.db
      .selectFrom('usage_ledger')
      .select(['project', 'user_name', 'team'])
      .where('source_kind', '=', 'provider')
      .where('project', '=', 'job_provplain')
      .execute();
    expect(billed.length).toBe(2);
    expect(billed.every((row) => row.user_name === 'alice' && row.team === 'legal-rag')).toBe(true);
  });

  it('the key quota and the team budget apply', async () => {
    // Each stub answer reports 150k tokens: with 1M per period the quota runs out within a few calls.
    let status = 200;
    for (let call = 0; call < 10 && status === 200; call++) {
      const raw = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'prov-a/gpt-4o-mini',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      status = raw.status;
      if (status !== 200) {
        expect(status).toBe(429);
        expect(((await raw.json()) as { error: { code: string } }).error.code).toBe('insufficient_quota');
      }
    }
    expect(status).toBe(429);
    // An exhausted budget refuses before anything is sent.
    await test.platform.store.db
      .updateTable('budgets')
      .set({ max_budget_micros: 1 })
      .where('team', '=', 'legal-rag')
      .execute();
    await test.platform.store.db
      .updateTable('endpoint_keys')
      .set({ max_tokens_per_period: null })
      .where('id', '=', 'key_prov')
      .execute();
    for (const stub of stubs) stub.bodies.length = 0;
    const error = await client()
      .chat.completions.create({ model: 'prov-a/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .then(unexpected, refused);
    expect(error.status).toBe(429);
    expect(error.code).toBe('insufficient_quota');
    expect(received()).toBe('');
  });

  it('members list names and models only; a member cannot register or remove a provider', async () => {
    const listed = await api('carol', 'GET', '/v1/providers');
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain('PROVIDER_KEY');
    expect(listed.body).not.toContain(PROVIDER_KEY);
    expect(listed.body).not.toContain('127.0.0.1');
    expect(listed.json().items.map((item: { name: string }) => item.name)).toEqual([
      'prov-a',
      'prov-b',
      'prov-block',
    ]);
    const admin = await api('admin', 'GET', '/v1/providers');
    expect(admin.body).toContain('PROVIDER_KEY');
    expect(admin.body).not.toContain(PROVIDER_KEY);
    const register = await api('alice', 'POST', '/v1/providers', {
      name: 'rogue',
      baseUrl: 'http://127.0.0.1:9/v1',
      keySecret: 'PROVIDER_KEY',
      models: [{ name: 'm', inputUsdPerMTok: 0, outputUsdPerMTok: 0 }],
    });
    expect(register.statusCode).toBe(403);
    expect((await api('carol', 'DELETE', '/v1/providers/prov-a')).statusCode).toBe(403);
    // A team cannot read or set the platform's secrets.
    expect(
      (await api('alice', 'PUT', `/v1/teams/${PLATFORM_SECRETS}/secrets/PROVIDER_KEY`, { value: 'x' }))
        .statusCode,
    ).toBe(404);
  });
});
