import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Example, TinyLM } from '../tiny-lm/model.mjs';

const script = join(import.meta.dirname, 'server.mjs');
const datasetDir = join(import.meta.dirname, '../../seed/datasets/legal-rag-v2');
const NAME = 'legal-answerer';

type Json = Record<string, unknown>;

function readJsonl(path: string): Example[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Example);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

let dir: string;
let server: ChildProcess;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let base: string;
let model: TinyLM;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aicloud-model-server-'));
  const train = readJsonl(join(datasetDir, 'train.jsonl'));
  model = TinyLM.create(train, { seed: 3 });
  model.train(train, { steps: 250 });
  model.save(dir, { name: NAME });
  const port = await freePort();
  server = spawn(
    process.execPath,
    [script, '--model', dir, '--port', String(port), '--host', '127.0.0.1', '--name', NAME],
    {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MODEL_SERVER_QUIET: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  let stderr = '';
  server.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const ready = out.split('\n').find((l) => l.startsWith('listening on '));
      if (ready) resolve(ready);
    });
    void exited.then(() => reject(new Error(`server exited before listening: ${stderr}`)));
  });
  expect(line).toBe(`listening on http://127.0.0.1:${port}`);
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Reads an SSE response into its `data:` payloads, checking the framing. */
async function sse(response: Response): Promise<{ chunks: Json[]; raw: string[] }> {
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const text = await response.text();
  const events = text.split('\n\n').filter((event) => event.trim());
  const raw = events.map((event) => {
    expect(event.startsWith('data: ')).toBe(true);
    return event.slice('data: '.length);
  });
  expect(raw.at(-1)).toBe('[DONE]');
  return { chunks: raw.slice(0, -1).map((data) => JSON.parse(data) as Json), raw };
}

function expectUsage(usage: unknown) {
  const u = usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  expect(Object.keys(u).sort()).toEqual(['completion_tokens', 'prompt_tokens', 'total_tokens']);
  expect(u.prompt_tokens).toBeGreaterThan(0);
  expect(u.completion_tokens).toBeGreaterThan(0);
  expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
  return u;
}

describe('the aicloud-tiny model server', () => {
  it('reports health and lists the model', async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { object: string; data: Json[] };
    expect(models.object).toBe('list');
    expect(models.data).toEqual([
      { id: NAME, object: 'model', created: expect.any(Number), owned_by: 'aicloud' },
    ]);
    expect((await fetch(`${base}/v1/models/${NAME}`)).status).toBe(200);
    const missing = await fetch(`${base}/v1/models/other`);
    expect(missing.status).toBe(404);
  });

  it('answers a chat completion in OpenAI shape', async () => {
    const response = await post('/v1/chat/completions', {
      model: NAME,
      messages: [
        { role: 'system', content: 'You answer legal questions.' },
        { role: 'user', content: 'What is arbitration?' },
      ],
      temperature: 0,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const body = (await response.json()) as Json;
    for (const key of ['id', 'object', 'created', 'model', 'choices', 'usage'])
      expect(body).toHaveProperty(key);
    expect(body.object).toBe('chat.completion');
    expect(body.model).toBe(NAME);
    expect(String(body.id)).toMatch(/^chatcmpl-/);
    const choices = body.choices as Json[];
    expect(choices).toHaveLength(1);
    const choice = choices[0] as { index: number; message: Json; finish_reason: string; logprobs: null };
    expect(choice.index).toBe(0);
    expect(choice.logprobs).toBeNull();
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message).toEqual({ role: 'assistant', content: expect.any(String), refusal: null });
    expect(choice.message.content).toBe(model.generate('What is arbitration?', { temperature: 0 }).text);
    expect(choice.message.content).toContain('arbitrator');
    expectUsage(body.usage);
  });

  it('honours max_tokens, max_completion_tokens, stop, seed and text content parts', async () => {
    const ask = async (extra: Json) =>
      (await (
        await post('/v1/chat/completions', {
          model: NAME,
          messages: [{ role: 'user', content: [{ type: 'text', text: 'What is a material breach?' }] }],
          ...extra,
        })
      ).json()) as { choices: { message: { content: string }; finish_reason: string }[]; usage: Json };
    const short = await ask({ max_tokens: 2, temperature: 0 });
    expect(short.choices[0]?.finish_reason).toBe('length');
    expect(short.usage.completion_tokens).toBe(2);
    const shorter = await ask({ max_completion_tokens: 1, max_tokens: 5, temperature: 0 });
    expect(shorter.usage.completion_tokens).toBe(1);
    const stopped = await ask({ stop: ['failure'], temperature: 0 });
    expect(stopped.choices[0]?.finish_reason).toBe('stop');
    expect(stopped.choices[0]?.message.content).toBe('A material breach is a ');
    const a = await ask({ temperature: 1.5, seed: 7 });
    const b = await ask({ temperature: 1.5, seed: 7 });
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
  });

  it('streams chat completions by the rules clients rely on, with include_usage', async () => {
    const request = {
      model: NAME,
      messages: [{ role: 'user', content: 'What is a notice clause?' }],
      temperature: 0,
    };
    const whole = (await (await post('/v1/chat/completions', request)).json()) as {
      choices: { message: { content: string } }[];
      usage: Json;
    };
    const { chunks } = await sse(
      await post('/v1/chat/completions', {
        ...request,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(chunks.length).toBeGreaterThan(4);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe(NAME);
      expect(chunk).toHaveProperty('usage');
    }
    const last = chunks.at(-1) as Json;
    expect(last.choices).toEqual([]);
    const usage = expectUsage(last.usage);
    expect(usage).toEqual(whole.usage);
    const body = chunks.slice(0, -1);
    for (const chunk of body) expect(chunk.usage).toBeNull();
    type Delta = { index: number; delta: { role?: string; content?: string }; finish_reason: string | null };
    const choices = body.map((c) => (c.choices as Delta[])[0] as Delta);
    expect(choices[0]?.delta.role).toBe('assistant');
    const finish = choices.at(-1) as Delta;
    expect(finish.finish_reason).toBe('stop');
    expect(finish.delta.content ?? '').toBe('');
    for (const choice of choices.slice(0, -1)) expect(choice.finish_reason).toBeNull();
    const text = choices.map((c) => c.delta.content ?? '').join('');
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(choices.filter((c) => c.delta.content).length).toBe(usage.completion_tokens);
  });

  it('streams without usage fields unless asked', async () => {
    const { chunks } = await sse(
      await post('/v1/chat/completions', {
        model: NAME,
        messages: [{ role: 'user', content: 'What is arbitration?' }],
        stream: true,
        max_tokens: 3,
      }),
    );
    for (const chunk of chunks) expect(chunk).not.toHaveProperty('usage');
    const last = ((chunks.at(-1)?.choices ?? []) as Json[])[0];
    expect(last).toMatchObject({ delta: {}, finish_reason: 'length' });
  });

  it('serves text completions, streamed and not', async () => {
    const response = await post('/v1/completions', {
      model: NAME,
      prompt: 'What is a force majeure clause?\nA force majeure clause',
      max_tokens: 8,
      temperature: 0,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Json;
    expect(body.object).toBe('text_completion');
    expect(String(body.id)).toMatch(/^cmpl-/);
    const choice = (body.choices as Json[])[0] as {
      text: string;
      index: number;
      logprobs: null;
      finish_reason: string;
    };
    expect(choice).toEqual({ index: 0, text: expect.any(String), logprobs: null, finish_reason: 'length' });
    expect(choice.text).toBe(' excuses a party from performing a contract when');
    expect(expectUsage(body.usage).completion_tokens).toBe(8);

    const { chunks } = await sse(
      await post('/v1/completions', {
        model: NAME,
        prompt: 'What is a force majeure clause?\nA force majeure clause',
        max_tokens: 8,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const last = chunks.at(-1) as Json;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(body.usage);
    const texts = chunks.slice(0, -1).map((c) => {
      expect(c.object).toBe('text_completion');
      expect(c.usage).toBeNull();
      return (c.choices as { text: string }[])[0]?.text ?? '';
    });
    expect(texts.join('')).toBe(choice.text);
  });

  it('embeds text as float arrays and as little-endian float32 base64', async () => {
    const input = ['What is arbitration?', 'A notice clause says how and where to send notices.'];
    const floats = (await (await post('/v1/embeddings', { model: NAME, input })).json()) as {
      object: string;
      data: { object: string; index: number; embedding: number[] }[];
      model: string;
      usage: { prompt_tokens: number; total_tokens: number };
    };
    expect(floats.object).toBe('list');
    expect(floats.model).toBe(NAME);
    expect(floats.data.map((d) => [d.object, d.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
    ]);
    expect(floats.usage.prompt_tokens).toBe(
      model.countTokens(input[0] ?? '') + model.countTokens(input[1] ?? ''),
    );
    expect(floats.usage.total_tokens).toBe(floats.usage.prompt_tokens);
    const first = floats.data[0]?.embedding ?? [];
    expect(first).toHaveLength(model.embedDim);
    expect(Math.hypot(...first)).toBeCloseTo(1, 5);
    expect(first).toEqual(Array.from(model.embed(input[0] ?? '')));

    const encoded = (await (
      await post('/v1/embeddings', { model: NAME, input, encoding_format: 'base64' })
    ).json()) as {
      data: { embedding: string }[];
    };
    encoded.data.forEach((item, i) => {
      // As the openai SDK decodes it.
      const bytes = Buffer.from(item.embedding, 'base64');
      const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
      expect(decoded).toEqual(floats.data[i]?.embedding);
    });

    const single = (await (await post('/v1/embeddings', { model: NAME, input: 'contract' })).json()) as {
      data: Json[];
    };
    expect(single.data).toHaveLength(1);
  });

  it('answers malformed requests with 400 and the four-key error body', async () => {
    const chat = (messages: unknown) => ({ model: NAME, messages });
    const cases: [string, unknown][] = [
      ['/v1/chat/completions', chat(null)],
      ['/v1/chat/completions', chat('What is arbitration?')],
      ['/v1/chat/completions', chat([123])],
      ['/v1/chat/completions', chat([{}])],
      ['/v1/chat/completions', chat([{ role: 123 }])],
      ['/v1/chat/completions', chat([{ role: 'user', content: 42 }])],
      ['/v1/chat/completions', chat([{ role: 'user', content: { text: 'hi' } }])],
      ['/v1/chat/completions', chat([{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }])],
      ['/v1/chat/completions', chat([{ role: 'user' }])],
      ['/v1/chat/completions', chat([])],
      ['/v1/chat/completions', { model: NAME }],
      ['/v1/chat/completions', '{"model": "legal-answerer", "messages": ['],
      ['/v1/chat/completions', '[]'],
      ['/v1/chat/completions', { ...chat([{ role: 'user', content: 'hi' }]), max_tokens: 0 }],
      ['/v1/chat/completions', { ...chat([{ role: 'user', content: 'hi' }]), temperature: 'hot' }],
      [
        '/v1/chat/completions',
        { ...chat([{ role: 'user', content: 'hi' }]), stream_options: { include_usage: true } },
      ],
      ['/v1/completions', { model: NAME, prompt: 5 }],
      ['/v1/completions', { model: NAME }],
      ['/v1/embeddings', { model: NAME, input: 5 }],
      ['/v1/embeddings', { model: NAME, input: [] }],
      ['/v1/embeddings', { model: NAME, input: 'x', encoding_format: 'int8' }],
    ];
    for (const [path, body] of cases) {
      const response = await post(path, body);
      const text = await response.text();
      expect(response.status, `${path} ${JSON.stringify(body)} -> ${text}`).toBe(400);
      const parsed = JSON.parse(text) as { error: Json };
      expect(Object.keys(parsed)).toEqual(['error']);
      expect(Object.keys(parsed.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(parsed.error.type).toBe('invalid_request_error');
      expect(typeof parsed.error.message).toBe('string');
    }
    const unknown = await post('/v1/nothing', {});
    expect(unknown.status).toBe(404);
    expect(Object.keys(((await unknown.json()) as { error: Json }).error).sort()).toEqual([
      'code',
      'message',
      'param',
      'type',
    ]);
  });

  it('exits 0 on SIGTERM', async () => {
    server.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
