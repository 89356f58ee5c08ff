import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { repoRoot } from '../src/repo-paths.ts';
import type { RunningServer } from '../src/start-server.ts';
import { openAISchema } from './openai-spec.ts';
import { FIND_CLAUSE, tinyModelServer } from './tiny-model.ts';

// The gateway in front of the example model server (aicloud-tiny), through the real openai SDK: what the
// runtime declares passes through and works end to end; the rest is refused the way OpenAI refuses it.
let server: RunningServer;
let alice: Client;
let key: string;
let work: string;
const ORIGIN = 'https://app.example.com';

beforeAll(async () => {
  const started = await tinyModelServer('aicloud-openai-honest-', {
    // The shipped aicloud-tiny runtime, decoding at most a token per 10 ms as a GPU would: an aborted
    // stream then stops a generation that is still running.
    runtimes: {
      'aicloud-tiny': {
        name: 'aicloud-tiny',
        command: `exec ${process.execPath} ${repoRoot}/examples/model-server/server.mjs --model {model_dir} --socket {socket} --name {name} --token-interval-ms 10`,
        runsHere: true,
        healthPath: '/health',
        capabilities: {
          tools: true,
          jsonMode: true,
          jsonSchema: true,
          logprobs: false,
          embeddings: true,
          contextLength: 8192,
        },
      },
    },
  });
  ({ work, server } = started);
  const tokens = started.tokens;
  alice = createClient({ url: server.url, token: tokens.alice.token });
  await alice.models.register({ name: 'legal-answerer', source: `path:${join(work, 'model')}` });
  await alice.endpoints.deploy({
    model: 'legal-answerer',
    version: 1,
    minReplicas: 1,
    corsOrigins: [ORIGIN],
  });
  key = (await alice.keys.create({ endpoint: 'legal-answerer', name: 'honest' })).key;
}, 120_000);
afterAll(async () => {
  await alice?.endpoints.delete('legal-answerer').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await server?.stop();
});

const openai = (apiKey = key, maxRetries = 0) =>
  new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries });

async function post(path: string, body: unknown, apiKey = key) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const chat = (extra: Record<string, unknown>) =>
  post('/v1/chat/completions', {
    model: 'legal-answerer',
    messages: [{ role: 'user', content: 'What is arbitration?' }],
    ...extra,
  });

const clauseTool = {
  type: 'function' as const,
  function: FIND_CLAUSE,
};

describe('the gateway passes what aicloud-tiny declares, end to end', () => {
  it('round-trips a tool call: tool_choice required, then the tool’s result, then an answer', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Find the force majeure clause of contract 12' },
    ];
    const first = await openai().chat.completions.create({
      model: 'legal-answerer',
      messages,
      tools: [clauseTool],
      tool_choice: 'required',
    });
    expect(openAISchema('CreateChatCompletionResponse')(first)).toEqual([]);
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('find_clause');
    const args = JSON.parse(call.function.arguments);
    expect(Object.keys(args).sort()).toEqual(['clause', 'contract_id', 'strict']);
    expect(args.contract_id).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(args.contract_id)).toBe(true);
    messages.push(choice.message, {
      role: 'tool',
      tool_call_id: call.id,
      content: 'Force majeure excuses performance when events beyond control occur.',
    });
    const second = await openai().chat.completions.create({
      model: 'legal-answerer',
      messages,
      tools: [clauseTool],
      max_tokens: 16,
    });
    expect(second.choices[0]!.finish_reason).not.toBe('tool_calls');
    expect(typeof second.choices[0]!.message.content).toBe('string');
    // A named function, streamed: the SDK's stream helper assembles the call.
    const streamed = await openai()
      .chat.completions.stream({
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'Which clause covers war?' }],
        tools: [
          clauseTool,
          { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
        ],
        tool_choice: { type: 'function', function: { name: 'find_clause' } },
      })
      .finalChatCompletion();
    const streamedCall = streamed.choices[0]!.message.tool_calls![0]!;
    if (streamedCall.type !== 'function') throw new Error('not a function call');
    expect(streamedCall.function.name).toBe('find_clause');
    expect(Object.keys(JSON.parse(streamedCall.function.arguments)).sort()).toEqual([
      'clause',
      'contract_id',
      'strict',
    ]);
  });

  it('parses structured output with a zod schema (chat.completions.parse), and answers JSON mode with JSON', async () => {
    const Clause = z.object({
      title: z.string(),
      risk: z.number().int().min(1).max(5),
      parties: z.array(z.object({ name: z.string(), signed: z.boolean() })),
      kind: z.enum(['contract', 'tort', 'statute']),
      note: z.string().nullable(),
    });
    const parsed = await openai().chat.completions.parse({
      model: 'legal-answerer',
      messages: [{ role: 'user', content: 'Summarise the force majeure clause' }],
      response_format: zodResponseFormat(Clause, 'clause'),
    });
    const value = parsed.choices[0]!.message.parsed;
    expect(value).not.toBeNull();
    expect(Clause.parse(value)).toEqual(value);
    const json = await openai().chat.completions.create({
      model: 'legal-answerer',
      messages: [{ role: 'user', content: 'What is consideration? Answer in JSON.' }],
      response_format: { type: 'json_object' },
    });
    const object = JSON.parse(json.choices[0]!.message.content!);
    expect(typeof object === 'object' && object !== null && !Array.isArray(object)).toBe(true);
  });

  it('retrieves its model, and not another', async () => {
    const model = await openai().models.retrieve('legal-answerer');
    expect(model).toMatchObject({ id: 'legal-answerer', object: 'model', owned_by: 'legal-rag' });
    await expect(openai().models.retrieve('gpt-4o')).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
    const slash = await fetch(`${server.url}/v1/models/`, { headers: { authorization: `Bearer ${key}` } });
    expect(slash.status).toBe(200);
    expect((await slash.json()).data[0].id).toBe('legal-answerer');
  });

  it('meters only what an aborted stream delivered, and stops the generation', async () => {
    const metered = await alice.keys.create({ endpoint: 'legal-answerer', name: 'abort' });
    const controller = new AbortController();
    const stream = await openai(metered.key).chat.completions.create(
      {
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'Tell me everything about contracts' }],
        max_tokens: 2000,
        stream: true,
        // vLLM's extension, which aicloud-tiny implements: no early end, so a full answer is 2000 tokens.
        ignore_eos: true,
      } as OpenAI.ChatCompletionCreateParamsStreaming,
      { signal: controller.signal },
    );
    let received = 0;
    // The SDK ends the iteration quietly (or throws an abort error, by version) once aborted.
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received += 1;
        if (received === 3) {
          controller.abort();
          break;
        }
      }
    } catch (error) {
      expect(String(error)).toMatch(/abort/i);
    }
    expect(received).toBe(3);
    // The gateway settles when it notices the close; then the usage is in the ledger.
    let tokensOut = 0;
    for (let tries = 0; tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.platform.gateway.flush();
      const rows = await server.platform.store.db
        .selectFrom('usage_ledger')
        .select(['resource', 'quantity'])
        .where('project', '=', metered.id)
        .execute();
      tokensOut = rows.find((row) => row.resource === 'tokens_out:legal-answerer')?.quantity ?? 0;
      if (tokensOut > 0) break;
    }
    expect(tokensOut).toBeGreaterThanOrEqual(3);
    // Billed: what the gateway wrote to the client's connection before its close arrived (the client's
    // HTTP stack reads ahead of the 3 chunks the app took), a small part of the 2000 a full answer is.
    expect(tokensOut).toBeLessThan(2000 / 10);
    const metrics = await server.platform.gateway.metrics.registry.getSingleMetricAsString(
      'aicloud_gateway_client_aborts_total',
    );
    expect(metrics).toMatch(/endpoint="legal-answerer"} [1-9]/);
  });
});

describe('the gateway refuses what it cannot honour, as OpenAI does', () => {
  const validate = openAISchema('ErrorResponse');

  it('answers unsupported parameters and values with 400 unsupported_parameter / unsupported_value', async () => {
    for (const [extra, param, code] of [
      [{ logprobs: true }, 'logprobs', 'unsupported_parameter'],
      [{ functions: [{ name: 'f' }] }, 'functions', 'unsupported_parameter'],
      [
        { audio: { voice: 'alloy', format: 'mp3' }, modalities: ['text', 'audio'] },
        'audio',
        'unsupported_parameter',
      ],
      [{ modalities: ['text', 'audio'] }, 'modalities', 'unsupported_value'],
      [{ response_format: { type: 'yaml' } }, 'response_format.type', 'invalid_value'],
    ] as const) {
      const { status, body } = await chat(extra);
      expect(status, JSON.stringify(extra)).toBe(400);
      expect(validate(body)).toEqual([]);
      expect(body.error).toMatchObject({ type: 'invalid_request_error', param, code });
    }
    // The SDK surfaces it as a BadRequestError with the code, and does not retry.
    await expect(
      openai(key, 3).chat.completions.create({
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'hi' }],
        logprobs: true,
        top_logprobs: 2,
      }),
    ).rejects.toMatchObject({ status: 400, code: 'unsupported_parameter', param: 'logprobs' });
  });

  it('validates ranges and messages the way OpenAI does, before any replica works', async () => {
    for (const [extra, param] of [
      [{ frequency_penalty: 5 }, 'frequency_penalty'],
      [{ presence_penalty: -9 }, 'presence_penalty'],
      [{ temperature: 2.5 }, 'temperature'],
      [{ top_p: 1.5 }, 'top_p'],
      [{ n: 0 }, 'n'],
      [{ max_tokens: 0 }, 'max_tokens'],
      [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
      [{ stream_options: { include_usage: true } }, 'stream_options'],
      [{ tool_choice: 'required' }, 'tool_choice'],
      [{ tools: [clauseTool], tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice'],
      [{ tools: [{ type: 'function', function: { name: 'has space' } }] }, 'tools[0].function.name'],
      [
        {
          messages: [
            { role: 'user', content: 'hi' },
            { role: 'tool', content: 'result' },
          ],
        },
        'messages[1].tool_call_id',
      ],
    ] as const) {
      const { status, body } = await chat(extra);
      expect(status, JSON.stringify(extra)).toBe(400);
      expect(validate(body)).toEqual([]);
      expect(body.error.param, JSON.stringify(body)).toBe(param);
    }
  });

  it('enforces the context length before forwarding, counting tokens as the gateway meters them', async () => {
    const words = Array.from({ length: 9000 }, (_, index) => `w${index % 97}`).join(' ');
    const { status, body } = await post('/v1/chat/completions', {
      model: 'legal-answerer',
      messages: [{ role: 'user', content: words }],
    });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect(body.error.message).toMatch(/maximum context length is 8192 tokens/);
    // Short text but a completion that cannot fit.
    const long = await chat({ max_tokens: 9000 });
    expect(long.status).toBe(400);
    expect(long.body.error.code).toBe('context_length_exceeded');
    // Punctuation counts a token each, as metered: 7000 characters of '.' are 7000 tokens, not 1750.
    const dots = await post('/v1/embeddings', { model: 'legal-answerer', input: '. '.repeat(8500) });
    expect(dots.status).toBe(400);
    expect(dots.body.error.code).toBe('context_length_exceeded');
  });

  it('surfaces an exhausted quota at once: insufficient_quota, x-should-retry false, no retry by the SDK', async () => {
    const small = await alice.keys.create({
      endpoint: 'legal-answerer',
      name: 'tiny-quota',
      maxTokensPerPeriod: 30,
      period: '30d',
    });
    const used = await post(
      '/v1/chat/completions',
      {
        model: 'legal-answerer',
        max_tokens: 20,
        // All 20 tokens, whatever the model would say: the quota then cannot hold another 20.
        ignore_eos: true,
        messages: [{ role: 'user', content: 'What is arbitration?' }],
      },
      small.key,
    );
    expect(used.status).toBe(200);
    const refused = await post(
      '/v1/chat/completions',
      { model: 'legal-answerer', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] },
      small.key,
    );
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('insufficient_quota');
    expect(refused.headers.get('x-should-retry')).toBe('false');
    expect(refused.headers.get('retry-after')).toBeNull();
    const started = performance.now();
    await expect(
      openai(small.key, 2).chat.completions.create({
        model: 'legal-answerer',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('answers other routes and methods with OpenAI’s 404 and 405 once the key is valid, and 401 before', async () => {
    for (const [method, path, status] of [
      ['POST', '/v1/audio/speech', 404],
      ['POST', '/v1/moderations', 404],
      ['GET', '/v1/jobs', 404],
      ['GET', '/v1/chat/completions', 405],
      ['GET', '/v1/responses', 405],
      ['POST', '/v1/models', 405],
      ['DELETE', '/v1/models/legal-answerer', 405],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      const body = await response.json();
      expect(response.status, `${method} ${path}`).toBe(status);
      expect(validate(body)).toEqual([]);
      expect(body.error.code).toBe(status === 404 ? 'unknown_url' : 'method_not_allowed');
      const bad = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: 'Bearer sk-aic-not-a-key', 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      expect(bad.status).toBe(401);
      expect((await bad.json()).error.code).toBe('invalid_api_key');
    }
    // The SDK's call of an API not served gets a clear refusal, not a 401.
    await expect(openai().moderations.create({ input: 'hi' })).rejects.toMatchObject({
      status: 404,
      code: 'unknown_url',
    });
    // A trailing slash is the same route.
    const slash = await post('/v1/chat/completions/', {
      model: 'legal-answerer',
      max_tokens: 4,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(slash.status).toBe(200);
    expect(slash.body.object).toBe('chat.completion');
    // A user's token still reads the platform's own 404.
    const tokens = JSON.parse(readFileSync(join(work, 'data/credentials.json'), 'utf8'));
    const user = await fetch(`${server.url}/v1/moderations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.alice.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(user.status).toBe(404);
    expect((await user.json()).error.code).toBe('not_found');
  });

  it('answers CORS preflights without a key for an origin the endpoint allows, and no other', async () => {
    const preflight = (origin: string, path = '/v1/chat/completions') =>
      fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
    for (const path of ['/v1/chat/completions', '/v1/responses', '/v1/models', '/v1/models/legal-answerer']) {
      const allowed = await preflight(ORIGIN, path);
      expect(allowed.status, path).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    }
    const other = await preflight('https://evil.example.net');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // The answer itself: CORS headers for the allowed origin only.
    const answer = async (origin: string) =>
      fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}`, origin } });
    expect((await answer(ORIGIN)).headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect((await answer('https://evil.example.net')).headers.get('access-control-allow-origin')).toBeNull();
    const completion = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', origin: ORIGIN },
      body: JSON.stringify({
        model: 'legal-answerer',
        max_tokens: 3,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(completion.status).toBe(200);
    expect(completion.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(completion.headers.get('access-control-expose-headers')).toMatch(/x-request-id/);
    // A refusal is readable too, once the key is known.
    const refused = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', origin: ORIGIN },
      body: JSON.stringify({
        model: 'legal-answerer',
        temperature: 9,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  // Last: it spends the team's budget for good.
  it('surfaces an exhausted team budget at once, without Retry-After, and the SDK does not retry', async () => {
    const tokens = JSON.parse(readFileSync(join(work, 'data/credentials.json'), 'utf8'));
    const admin = createClient({ url: server.url, token: tokens.admin.token });
    await admin.budgets.set('legal-rag', { maxBudget: 0, softBudget: null });
    const ask = () => chat({ max_tokens: 4 });
    // The gateway reads a team's budget at most every 5 s.
    let refused = await ask();
    for (let tries = 0; refused.status === 200 && tries < 40; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      refused = await ask();
    }
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' });
    expect(refused.body.error.message).toMatch(/budget of team legal-rag is exhausted/);
    expect(refused.headers.get('x-should-retry')).toBe('false');
    expect(refused.headers.get('retry-after')).toBeNull();
    const started = performance.now();
    await expect(
      openai(key, 2).chat.completions.create({
        model: 'legal-answerer',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
