import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/start-server.ts';
import { openAISchema } from './openai-spec.ts';
import { tinyModelServer } from './tiny-model.ts';

let server: RunningServer;
let alice: Client;
let carol: Client;
let key: string;
let work: string;

async function until<T>(what: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  const started = await tinyModelServer('aicloud-gateway-');
  ({ work, server } = started);
  const tokens = started.tokens;
  alice = createClient({ url: server.url, token: tokens.alice.token });
  carol = createClient({ url: server.url, token: tokens.carol.token });
  await alice.models.register({ name: 'legal-answerer', source: `path:${join(work, 'model')}` });
  await alice.endpoints.deploy({ model: 'legal-answerer', version: 1, scaleToZero: true, idleTimeout: '3s' });
  key = (await alice.keys.create({ endpoint: 'legal-answerer', name: 'tests' })).key;
}, 120_000);
afterAll(async () => {
  // Replicas outlive a server stop by design (they are re-attached on restart): delete the endpoint so
  // the test leaves no model server behind.
  await alice?.endpoints.delete('legal-answerer').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await server?.stop();
});

const openai = (apiKey: string, options: { maxRetries?: number } = {}) =>
  new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: options.maxRetries ?? 0 });

describe('OpenAI-compatible endpoints through the real openai SDK', () => {
  it('answers a chat completion from zero replicas (cold start), valid against the OpenAI spec', async () => {
    expect((await alice.endpoints.get('legal-answerer')).status).toBe('scaled_to_zero');
    const raw = await openai(key)
      .chat.completions.create({
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'What is arbitration?' }],
        max_tokens: 12,
      })
      .asResponse();
    expect(raw.headers.get('x-aicloud-cold-start-ms')).toMatch(/^\d+$/);
    const body = await raw.json();
    expect(openAISchema('CreateChatCompletionResponse')(body)).toEqual([]);
    expect(typeof body.choices[0].message.content).toBe('string');
    const endpoint = await alice.endpoints.get('legal-answerer');
    expect(endpoint.stats.coldStarts).toBe(1);
    expect(endpoint.status).toBe('ready');
  });

  it('streams with include_usage: same id, role first, usage last, and the SDK’s stream helper accepts it', async () => {
    const validate = openAISchema('CreateChatCompletionStreamResponse');
    const stream = await openai(key).chat.completions.create({
      model: 'legal-answerer',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 10,
      messages: [{ role: 'user', content: 'What is a notice clause?' }],
    });
    const chunks = [];
    for await (const chunk of stream) {
      expect(validate(chunk)).toEqual([]);
      chunks.push(chunk);
    }
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    const final = await openai(key)
      .chat.completions.stream({
        model: 'legal-answerer',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'What is consideration?' }],
      })
      .finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBeTruthy();
  });

  it('returns embeddings in the SDK’s default base64 encoding, and lists models', async () => {
    const embeddings = await openai(key).embeddings.create({
      model: 'legal-answerer',
      input: ['contract', 'liability'],
    });
    expect(embeddings.data).toHaveLength(2);
    expect(embeddings.data[0]!.embedding.length).toBeGreaterThan(4);
    expect(embeddings.data[0]!.embedding.every((value) => Number.isFinite(value))).toBe(true);
    const models = await openai(key).models.list();
    expect(models.data.map((model) => model.id)).toEqual(['legal-answerer']);
  });

  it('answers malformed requests with 400 and OpenAI’s four-key error body', async () => {
    const validate = openAISchema('ErrorResponse');
    for (const messages of [null, 'hi', [123], [{}], [{ role: 123 }], [{ role: 'user', content: 5 }]]) {
      const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'legal-answerer', messages }),
      });
      expect(response.status, JSON.stringify(messages)).toBe(400);
      const body = await response.json();
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(validate(body)).toEqual([]);
    }
    const broken = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(broken.status).toBe(400);
    expect(Object.keys((await broken.json()).error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('refuses a bad key with 401 and a key of another team for this endpoint', async () => {
    await expect(
      openai('sk-aic-wrong').chat.completions.create({
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
    await expect(carol.keys.create({ endpoint: 'legal-answerer' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('limits requests per minute with 429 and Retry-After that the SDK honours', async () => {
    const limited = (await alice.keys.create({ endpoint: 'legal-answerer', name: 'rpm', rpm: 1 })).key;
    await openai(limited).chat.completions.create({
      model: 'legal-answerer',
      max_tokens: 4,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${limited}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'legal-answerer', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(429);
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await response.json()).error.code).toBe('rate_limit_exceeded');
    // The SDK retries 429s, waiting Retry-After; with no retries left it surfaces the 429.
    await expect(
      openai(limited, { maxRetries: 0 }).chat.completions.create({
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 429 });
  });

  it('meters exactly the tokens the runtime reported, per key, endpoint and team', async () => {
    const metered = (await alice.keys.create({ endpoint: 'legal-answerer', name: 'metered' })).key;
    const answer = await openai(metered).chat.completions.create({
      model: 'legal-answerer',
      max_tokens: 6,
      messages: [{ role: 'user', content: 'What is a severability clause?' }],
    });
    await server.platform.gateway.flush();
    const rows = await server.platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('unit', '=', 'token')
      .execute();
    const keyRow = (await alice.keys.list('legal-answerer')).items.find((item) => item.name === 'metered')!;
    const mine = rows.filter((row) => row.project === keyRow.id);
    expect(mine.find((row) => row.resource === 'tokens_in:legal-answerer')?.quantity).toBe(
      answer.usage!.prompt_tokens,
    );
    expect(mine.find((row) => row.resource === 'tokens_out:legal-answerer')?.quantity).toBe(
      answer.usage!.completion_tokens,
    );
    expect(mine.every((row) => row.team === 'legal-rag' && row.category === 'inference')).toBe(true);
  });

  it('never serves more than a key’s token quota, even to concurrent requests', async () => {
    const quota = 40;
    const created = await alice.keys.create({
      endpoint: 'legal-answerer',
      name: 'quota',
      maxTokensPerPeriod: quota,
      period: '30d',
    });
    const ask = (maxTokens: number) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'legal-answerer',
          max_tokens: maxTokens,
          messages: [{ role: 'user', content: 'What is arbitration?' }],
        }),
      });
    let served = 0;
    let answered = 0;
    const settle = async (response: Response) => {
      const body = await response.json();
      if (response.status === 200) {
        answered += 1;
        served += body.usage.total_tokens;
      } else {
        expect(response.status, JSON.stringify(body)).toBe(429);
        expect(body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
      }
      return { status: response.status, body, shouldRetry: response.headers.get('x-should-retry') };
    };
    // Twelve at once: each reserves its prompt and max_tokens, so only as many as fit run.
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => ask(8).then(settle)));
    expect(answered).toBeGreaterThan(0);
    expect(outcomes.some((outcome) => outcome.status === 429)).toBe(true);
    expect(served).toBeLessThanOrEqual(quota);
    // More, one after another, until the quota cannot hold another: refused with x-should-retry: false.
    let last = await settle(await ask(8));
    for (let tries = 0; last.status === 200 && tries < 10; tries += 1) last = await settle(await ask(8));
    expect(last.status).toBe(429);
    expect(last.shouldRetry).toBe('false');
    expect(last.body.error.message).toMatch(/quota of 40 tokens per 30d/);
    expect(served).toBeLessThanOrEqual(quota);
    // The SDK does not retry what will not fit; a request larger than the quota never runs.
    await expect(
      openai(created.key, { maxRetries: 3 }).chat.completions.create({
        model: 'legal-answerer',
        max_tokens: quota + 1,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
    await server.platform.gateway.flush();
    const rows = await server.platform.store.db
      .selectFrom('usage_ledger')
      .select('quantity')
      .where('unit', '=', 'token')
      .where('project', '=', created.id)
      .execute();
    const metered = rows.reduce((sum, row) => sum + row.quantity, 0);
    expect(metered).toBe(served);
    expect(metered).toBeLessThanOrEqual(quota);
  });

  it('scales to zero after the idle timeout and back on the next request', async () => {
    await until(
      () => alice.endpoints.get('legal-answerer'),
      (endpoint) => endpoint.status === 'scaled_to_zero',
      30_000,
    );
    const before = (await alice.endpoints.get('legal-answerer')).stats.coldStarts;
    await openai(key).chat.completions.create({
      model: 'legal-answerer',
      max_tokens: 4,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect((await alice.endpoints.get('legal-answerer')).stats.coldStarts).toBe(before + 1);
    const replicaSpend = await server.platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('source_kind', '=', 'endpoint')
      .where('unit', '=', 'instance_hour')
      .execute();
    expect(replicaSpend.length).toBeGreaterThan(0);
  }, 60_000);

  it('never deploys a version the scanner blocked', async () => {
    const bad = join(work, 'bad-model');
    execFileSync('mkdir', ['-p', bad]);
    writeFileSync(join(bad, 'config.json'), '{"runtime":"aicloud-tiny"}');
    writeFileSync(
      join(bad, 'pytorch_model.bin'),
      execFileSync('/usr/bin/python3', [
        '-c',
        "import pickle,os,sys\nclass E:\n  def __reduce__(self): return (os.system, ('echo pwned',))\nsys.stdout.buffer.write(pickle.dumps(E(), protocol=2))",
      ]),
    );
    const version = await alice.models.register({
      name: 'evil',
      source: `path:${bad}`,
      runtime: 'aicloud-tiny',
    });
    expect(version.scanVerdict).toBe('blocked');
    await expect(alice.endpoints.deploy({ model: 'evil', version: version.version })).rejects.toMatchObject({
      code: 'policy_denied',
    });
    expect((await alice.endpoints.list()).items.map((endpoint) => endpoint.name)).not.toContain('evil');
  });
});
