import { join } from 'node:path';
import { createOpenAI } from '@ai-sdk/openai';
import { type Client, createClient } from '@aicloud/client';
import { APICallError, generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunningServer } from '../src/start-server.ts';
import { openAISchema } from './openai-spec.ts';
import { FIND_CLAUSE, tinyModelServer } from './tiny-model.ts';

// POST /v1/responses (OpenAI's Responses API), served by translation to the endpoint's chat completions, in
// front of the example model server (aicloud-tiny): through the official openai SDK and the Vercel AI SDK,
// whose default `openai(model)` provider calls it.
let server: RunningServer;
let alice: Client;
let key: string;
let work: string;
const MODEL = 'legal-answerer';

beforeAll(async () => {
  const started = await tinyModelServer('aicloud-openai-responses-');
  ({ work, server } = started);
  const tokens = started.tokens;
  alice = createClient({ url: server.url, token: tokens.alice.token });
  // The shipped aicloud-tiny runtime: tools and grammar-constrained JSON for real.
  await alice.models.register({ name: MODEL, source: `path:${join(work, 'model')}` });
  await alice.endpoints.deploy({ model: MODEL, version: 1, minReplicas: 1 });
  key = (await alice.keys.create({ endpoint: MODEL, name: 'responses' })).key;
}, 120_000);
afterAll(async () => {
  await alice?.endpoints.delete(MODEL).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await server?.stop();
});

const openai = (apiKey = key, maxRetries = 0) =>
  new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries });
const aiProvider = (apiKey = key) => createOpenAI({ baseURL: `${server.url}/v1`, apiKey });

async function post(path: string, body: unknown, apiKey = key) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** The ledger's token rows of a key, once the gateway has written them. */
async function ledger(keyId: string) {
  await server.platform.gateway.flush();
  const rows = await server.platform.store.db
    .selectFrom('usage_ledger')
    .select(['resource', 'quantity'])
    .where('project', '=', keyId)
    .where('unit', '=', 'token')
    .execute();
  const sum = (resource: string) =>
    rows.filter((row) => row.resource === resource).reduce((total, row) => total + row.quantity, 0);
  return { tokensIn: sum(`tokens_in:${MODEL}`), tokensOut: sum(`tokens_out:${MODEL}`) };
}

/** A Response's text (the stream helper's final Response has no `output_text`: the SDK adds none there). */
const textOf = (response: OpenAI.Responses.Response) =>
  response.output
    .flatMap((item) => (item.type === 'message' ? item.content : []))
    .map((part) => (part.type === 'output_text' ? part.text : ''))
    .join('');

const clauseTool = {
  type: 'function' as const,
  ...FIND_CLAUSE,
  strict: true,
};

describe('POST /v1/responses through the official openai SDK', () => {
  it('answers a Response object valid against OpenAI’s spec; output_text is the SDK’s own', async () => {
    const validate = openAISchema('Response');
    const raw = await post('/v1/responses', {
      model: MODEL,
      instructions: 'Answer as a lawyer would.',
      input: 'What is arbitration?',
      max_output_tokens: 32,
      temperature: 0,
      metadata: { ticket: 'T-1' },
    });
    expect(raw.status, JSON.stringify(raw.body)).toBe(200);
    expect(validate(raw.body)).toEqual([]);
    expect(raw.body).toMatchObject({
      object: 'response',
      model: MODEL,
      instructions: 'Answer as a lawyer would.',
      max_output_tokens: 32,
      temperature: 0,
      metadata: { ticket: 'T-1' },
      store: false,
      error: null,
    });
    expect(raw.body.id).toMatch(/^resp_/);
    expect(['completed', 'incomplete']).toContain(raw.body.status);
    // OpenAI's servers do not send `output_text`: the SDKs add it.
    expect('output_text' in raw.body).toBe(false);
    const [message] = raw.body.output;
    expect(message).toMatchObject({ type: 'message', role: 'assistant' });
    expect(message.id).toMatch(/^msg_/);
    expect(message.content[0].type).toBe('output_text');
    const { usage } = raw.body;
    expect(usage.input_tokens).toBeGreaterThan(0);
    expect(usage.output_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);

    // Greedy decoding (temperature 0) of the tiny model, trained with a fixed seed: the same answer each run.
    const response = await openai().responses.create({
      model: MODEL,
      input: 'What is consideration?',
      temperature: 0,
    });
    expect(response.output_text.length).toBeGreaterThan(0);
    const first = response.output[0]!;
    if (first.type !== 'message' || first.content[0]?.type !== 'output_text')
      throw new Error('not a text message');
    expect(response.output_text).toBe(first.content[0].text);
    // A conversation sent whole (input items, as the Responses API takes them back): answered too.
    const followUp = await openai().responses.create({
      model: MODEL,
      input: [
        { role: 'user', content: 'What is consideration?' },
        ...response.output.filter((item) => item.type === 'message'),
        { role: 'user', content: [{ type: 'input_text', text: 'What is a lease?' }] },
      ],
      max_output_tokens: 16,
      temperature: 0,
    });
    expect(followUp.output_text.length).toBeGreaterThan(0);
  });

  it('reports a cut answer as incomplete, with the reason', async () => {
    // Temperature 2 rarely ends on its own within 16 tokens: try a few.
    let cut: OpenAI.Responses.Response | undefined;
    for (let tries = 0; tries < 10 && !cut; tries++) {
      const response = await openai().responses.create({
        model: MODEL,
        input: 'Tell me everything about the law of contracts and its history',
        max_output_tokens: 16,
        temperature: 2,
      });
      expect(response.usage!.output_tokens).toBeLessThanOrEqual(16);
      if (response.status === 'incomplete') cut = response;
      else expect(response.incomplete_details).toBeNull();
    }
    expect(cut, 'no answer was cut at 16 tokens').toBeDefined();
    expect(cut!.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(cut!.usage!.output_tokens).toBe(16);
    expect(openAISchema('Response')(cut)).toEqual([]);
  });

  it('streams the Responses events in order; the final text is the deltas', async () => {
    const validate = openAISchema('ResponseStreamEvent');
    const stream = await openai().responses.create({
      model: MODEL,
      input: 'What is a notice clause?',
      max_output_tokens: 48,
      temperature: 0,
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) {
      expect(validate(event), event.type).toEqual([]);
      events.push(event);
    }
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const types = events.map((event) => event.type);
    const deltas = types.filter((type) => type === 'response.output_text.delta').length;
    expect(deltas).toBeGreaterThan(0);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(deltas).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      expect.stringMatching(/^response\.(completed|incomplete)$/),
    ]);
    const text = events
      .filter((event) => event.type === 'response.output_text.delta')
      .map((event) => event.delta)
      .join('');
    const done = events.find((event) => event.type === 'response.output_text.done')!;
    expect(done.type === 'response.output_text.done' && done.text).toBe(text);
    const last = events.at(-1)!;
    if (last.type !== 'response.completed' && last.type !== 'response.incomplete') throw new Error(last.type);
    expect(last.response.usage!.output_tokens).toBeGreaterThan(0);
    const created = events[0]!;
    expect(created.type === 'response.created' && created.response.id).toBe(last.response.id);

    // The SDK's stream helper assembles the same.
    const helper = openai().responses.stream({
      model: MODEL,
      input: 'What is an indemnity?',
      max_output_tokens: 32,
      temperature: 0,
    });
    let streamed = '';
    helper.on('response.output_text.delta', (event) => {
      streamed += event.delta;
    });
    const final = await helper.finalResponse();
    expect(streamed.length).toBeGreaterThan(0);
    expect(textOf(final)).toBe(streamed);
  });

  it('round-trips a tool call: function_call, then function_call_output, then an answer', async () => {
    const input: OpenAI.Responses.ResponseInputItem[] = [
      { role: 'user', content: 'Find the arbitration clause' },
    ];
    const first = await openai().responses.create({
      model: MODEL,
      input,
      tools: [clauseTool],
      tool_choice: 'required',
    });
    expect(openAISchema('Response')(first)).toEqual([]);
    const call = first.output.find((item) => item.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no function call');
    expect(call.name).toBe('find_clause');
    expect(call.call_id).toMatch(/\S/);
    expect(call.id).toMatch(/^fc_/);
    const args = JSON.parse(call.arguments);
    expect(Object.keys(args).sort()).toEqual(['clause', 'contract_id', 'strict']);
    expect(Number.isInteger(args.contract_id) && args.contract_id >= 1).toBe(true);
    expect(first.output_text).toBe('');
    const second = await openai().responses.create({
      model: MODEL,
      input: [
        ...input,
        ...first.output,
        {
          type: 'function_call_output',
          call_id: call.call_id,
          output: 'Force majeure excuses performance when events beyond control occur.',
        },
      ],
      tools: [clauseTool],
      tool_choice: 'none',
      max_output_tokens: 16,
      temperature: 0,
    });
    expect(second.output.every((item) => item.type === 'message')).toBe(true);
    expect(second.output_text.length).toBeGreaterThan(0);

    // A named function, streamed: argument deltas, then the whole arguments.
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    const stream = await openai().responses.create({
      model: MODEL,
      input: 'Which clause covers war?',
      tools: [
        clauseTool,
        { type: 'function', name: 'get_weather', parameters: { type: 'object' }, strict: false },
      ],
      tool_choice: { type: 'function', name: 'find_clause' },
      stream: true,
    });
    for await (const event of stream) events.push(event);
    const types = events.map((event) => event.type);
    expect(types.slice(0, 3)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
    ]);
    expect(types.slice(-4)).toEqual([
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const argumentDeltas = events
      .filter((event) => event.type === 'response.function_call_arguments.delta')
      .map((event) => event.delta)
      .join('');
    const argsDone = events.find((event) => event.type === 'response.function_call_arguments.done');
    if (argsDone?.type !== 'response.function_call_arguments.done') throw new Error('no arguments');
    expect(argsDone.name).toBe('find_clause');
    expect(argsDone.arguments).toBe(argumentDeltas);
    expect(Object.keys(JSON.parse(argsDone.arguments)).sort()).toEqual(['clause', 'contract_id', 'strict']);
  });

  it('holds text.format json_schema to the schema (responses.parse), and json_object to JSON', async () => {
    const Clause = z.object({
      title: z.string(),
      risk: z.number().int().min(1).max(5),
      parties: z.array(z.object({ name: z.string(), signed: z.boolean() })),
      kind: z.enum(['contract', 'tort', 'statute']),
    });
    const parsed = await openai().responses.parse({
      model: MODEL,
      input: 'Summarise the force majeure clause',
      text: { format: zodTextFormat(Clause, 'clause') },
    });
    expect(parsed.output_parsed).not.toBeNull();
    expect(Clause.parse(parsed.output_parsed)).toEqual(parsed.output_parsed);
    expect(parsed.text?.format?.type).toBe('json_schema');
    const json = await openai().responses.create({
      model: MODEL,
      input: 'What is consideration? Answer in JSON.',
      text: { format: { type: 'json_object' } },
    });
    const object = JSON.parse(json.output_text);
    expect(typeof object === 'object' && object !== null && !Array.isArray(object)).toBe(true);
  });

  it('meters a response exactly as the equivalent chat completion', async () => {
    const viaResponses = await alice.keys.create({ endpoint: MODEL, name: 'metered-responses' });
    const viaChat = await alice.keys.create({ endpoint: MODEL, name: 'metered-chat' });
    const question = 'What is a deed?';
    const response = await openai(viaResponses.key).responses.create({
      model: MODEL,
      input: question,
      max_output_tokens: 24,
      temperature: 0,
    });
    const completion = await openai(viaChat.key).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: question }],
      max_tokens: 24,
      temperature: 0,
    });
    // The same prompt, greedy decoding: the same answer and the same tokens.
    expect(response.output_text).toBe(completion.choices[0]!.message.content);
    expect(response.usage!.input_tokens).toBe(completion.usage!.prompt_tokens);
    expect(response.usage!.output_tokens).toBe(completion.usage!.completion_tokens);
    expect(await ledger(viaResponses.id)).toEqual({
      tokensIn: response.usage!.input_tokens,
      tokensOut: response.usage!.output_tokens,
    });
    expect(await ledger(viaChat.id)).toEqual(await ledger(viaResponses.id));
    // Streamed: the final event's usage is what is metered.
    const streamed = await alice.keys.create({ endpoint: MODEL, name: 'metered-stream' });
    const final = await openai(streamed.key)
      .responses.stream({ model: MODEL, input: question, max_output_tokens: 24, temperature: 0 })
      .finalResponse();
    expect(textOf(final)).toBe(response.output_text);
    expect(await ledger(streamed.id)).toEqual({
      tokensIn: final.usage!.input_tokens,
      tokensOut: final.usage!.output_tokens,
    });
    expect(final.usage!.output_tokens).toBe(response.usage!.output_tokens);
  });

  it('holds a key’s quota on /v1/responses as on chat', async () => {
    const small = await alice.keys.create({
      endpoint: MODEL,
      name: 'responses-quota',
      maxTokensPerPeriod: 30,
      period: '30d',
    });
    // More than the quota may hold: refused before it runs, and the SDK does not retry.
    await expect(
      openai(small.key, 2).responses.create({ model: MODEL, input: 'hi', max_output_tokens: 40 }),
    ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(await ledger(small.id)).toEqual({ tokensIn: 0, tokensOut: 0 });
  });
});

describe('POST /v1/responses refuses what it does not serve, as OpenAI does', () => {
  const validate = openAISchema('ErrorResponse');

  it('answers unsupported and unknown parameters with 400, naming the parameter as sent', async () => {
    const tooLong = Array.from({ length: 9000 }, (_, index) => `w${index % 97}`).join(' ');
    for (const [extra, param, code] of [
      [{ previous_response_id: 'resp_123' }, 'previous_response_id', 'unsupported_parameter'],
      [{ conversation: 'conv_123' }, 'conversation', 'unsupported_parameter'],
      [{ reasoning: { effort: 'low' } }, 'reasoning', 'unsupported_parameter'],
      [{ include: ['message.output_text.logprobs'] }, 'include', 'unsupported_parameter'],
      [{ prompt_cache_key: 'k' }, 'prompt_cache_key', 'unsupported_parameter'],
      [{ text: { verbosity: 'low' } }, 'text.verbosity', 'unsupported_parameter'],
      [{ tools: [{ type: 'web_search' }] }, 'tools[0].type', 'unsupported_value'],
      [
        { tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] },
        'tools[0].type',
        'unsupported_value',
      ],
      [
        { tools: [clauseTool], tool_choice: { type: 'web_search_preview' } },
        'tool_choice.type',
        'unsupported_value',
      ],
      [{ background: true }, 'background', 'unsupported_value'],
      [{ truncation: 'auto' }, 'truncation', 'unsupported_value'],
      [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0].type', 'unsupported_value'],
      [{ input: [{ type: 'reasoning', id: 'rs_1', summary: [] }] }, 'input[0].type', 'unsupported_value'],
      [
        { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }] },
        'input[0].content[0].type',
        'unsupported_value',
      ],
      [{ frobnicate: true }, 'frobnicate', 'unknown_parameter'],
      // The chat path's checks, named as the client sent the parameter.
      [{ temperature: 3 }, 'temperature', 'decimal_out_of_range'],
      [{ max_output_tokens: 8 }, 'max_output_tokens', 'integer_below_min_value'],
      [{ max_output_tokens: 9000 }, 'input', 'context_length_exceeded'],
      [{ input: tooLong }, 'input', 'context_length_exceeded'],
      [{ text: { format: { type: 'yaml' } } }, 'text.format.type', 'invalid_value'],
      [
        { text: { format: { type: 'json_schema', name: 'has space', schema: { type: 'object' } } } },
        'text.format.name',
        'invalid_value',
      ],
      [{ tools: [{ ...clauseTool, name: 'has space' }] }, 'tools[0].name', 'invalid_value'],
      [
        { tools: [clauseTool], tool_choice: { type: 'function', name: 'nope' } },
        'tool_choice',
        'invalid_value',
      ],
      [
        {
          input: [
            { role: 'user', content: 'hi' },
            { type: 'function_call_output', output: 'result' },
          ],
        },
        'input[1].call_id',
        'missing_required_parameter',
      ],
      [{ input: [] }, 'input', 'empty_array'],
    ] as const) {
      const { status, body } = await post('/v1/responses', { model: MODEL, input: 'hi', ...extra });
      expect(status, JSON.stringify(extra)).toBe(400);
      expect(validate(body)).toEqual([]);
      expect(body.error, JSON.stringify(extra)).toMatchObject({ type: 'invalid_request_error', param, code });
    }
    // The SDK raises its BadRequestError with the code, and does not retry.
    const refused = openai(key, 3).responses.create({
      model: MODEL,
      input: 'hi',
      previous_response_id: 'resp_1',
    });
    await expect(refused).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(refused).rejects.toMatchObject({
      status: 400,
      code: 'unsupported_parameter',
      param: 'previous_response_id',
    });
    // Another model than the key's endpoint: OpenAI's 404.
    await expect(openai().responses.create({ model: 'gpt-4o', input: 'hi' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
  });

  it('keeps nothing: retrieving, deleting or cancelling a response is OpenAI’s 404', async () => {
    const created = await openai().responses.create({ model: MODEL, input: 'hi', store: true });
    // Echoed as it is: nothing was stored.
    expect((created as unknown as { store: unknown }).store).toBe(false);
    const retrieved = openai().responses.retrieve(created.id);
    await expect(retrieved).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(retrieved).rejects.toMatchObject({ status: 404 });
    await expect(retrieved).rejects.toThrow(/store no responses/);
    await expect(openai().responses.delete(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(openai().responses.cancel(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(openai().responses.inputItems.list(created.id)).rejects.toMatchObject({ status: 404 });
    const listed = await fetch(`${server.url}/v1/responses`, { headers: { authorization: `Bearer ${key}` } });
    expect(listed.status).toBe(405);
    expect(listed.headers.get('allow')).toBe('POST');
  });

  it('refuses a wrong key with OpenAI’s 401 before it reads the request', async () => {
    const wrong = openai('sk-aic-wrong').responses.create({ model: MODEL, input: 'hi' });
    await expect(wrong).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(wrong).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
    for (const authorization of ['Bearer sk-aic-wrong', 'Bearer not-a-key', '']) {
      const response = await fetch(`${server.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, input: 'hi', previous_response_id: 'resp_1' }),
      });
      expect(response.status, authorization).toBe(401);
      const body = await response.json();
      expect(validate(body)).toEqual([]);
      expect(body.error.code).toBe('invalid_api_key');
    }
    const retrieve = await fetch(`${server.url}/v1/responses/resp_123`, {
      headers: { authorization: 'Bearer sk-aic-wrong' },
    });
    expect(retrieve.status).toBe(401);
  });
});

describe('the Vercel AI SDK (@ai-sdk/openai) through /v1/responses and /v1/chat/completions', () => {
  it('generateText with the default provider calls the Responses API and answers', async () => {
    const result = await generateText({
      model: aiProvider()(MODEL),
      system: 'Answer briefly.',
      prompt: 'What is arbitration?',
      maxOutputTokens: 32,
      temperature: 0,
    });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.response.id).toMatch(/^resp_/);
    expect(['stop', 'length']).toContain(result.finishReason);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.warnings ?? []).toEqual([]);
  });

  it('streamText streams the Responses events as text', async () => {
    const result = streamText({
      model: aiProvider()(MODEL),
      prompt: 'What is a notice clause?',
      maxOutputTokens: 32,
      temperature: 0,
    });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text.length).toBeGreaterThan(0);
    expect(await result.text).toBe(text);
    expect(['stop', 'length']).toContain(await result.finishReason);
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
    expect((await result.response).id).toMatch(/^resp_/);
  });

  it('generateObject holds a zod schema (text.format json_schema)', async () => {
    const schema = z.object({
      title: z.string(),
      risk: z.number().int().min(1).max(5),
      kind: z.enum(['contract', 'tort', 'statute']),
      parties: z.array(z.string()),
    });
    const { object, response } = await generateObject({
      model: aiProvider()(MODEL),
      schema,
      prompt: 'Summarise the force majeure clause',
    });
    expect(schema.parse(object)).toEqual(object);
    expect(response.id).toMatch(/^resp_/);
  });

  it('runs a tool round trip with generateText (function_call, then its output, then text)', async () => {
    const calls: unknown[] = [];
    const result = await generateText({
      model: aiProvider()(MODEL),
      prompt: 'Find the arbitration clause',
      tools: {
        find_clause: tool({
          description: 'Find a clause of a contract by its name',
          inputSchema: z.object({ clause: z.string(), contract_id: z.number().int().min(1).max(9999) }),
          execute: async (input) => {
            calls.push(input);
            return 'Force majeure excuses performance when events beyond control occur.';
          },
        }),
      },
      // aicloud-tiny calls a tool only when told to (`required`), and answers in text with `none`.
      prepareStep: ({ stepNumber }) => ({ toolChoice: stepNumber === 0 ? 'required' : 'none' }),
      stopWhen: stepCountIs(2),
      maxOutputTokens: 24,
      temperature: 0,
    });
    console.log(
      JSON.stringify(
        result.steps.map((step) => [step.request.body, step.response.body]),
        null,
        1,
      ),
    );
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]!.toolCalls.map((call) => call.toolName)).toEqual(['find_clause']);
    expect(calls).toHaveLength(1);
    expect(z.object({ clause: z.string(), contract_id: z.number().int() }).safeParse(calls[0]).success).toBe(
      true,
    );
    expect(result.steps[1]!.toolCalls).toEqual([]);
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('a conversation with earlier output: a clear 400 with store (item references), answered with store false', async () => {
    const first = await generateText({
      model: aiProvider()(MODEL),
      prompt: 'What is a deed?',
      maxOutputTokens: 16,
      temperature: 0,
    });
    const messages = [
      { role: 'user' as const, content: 'What is a deed?' },
      ...first.response.messages,
      { role: 'user' as const, content: 'And a lease?' },
    ];
    // The AI SDK's default (store: true) refers to stored items by id: aicloud keeps none, and says so.
    const referenced = generateText({
      model: aiProvider()(MODEL),
      messages,
      maxOutputTokens: 16,
      maxRetries: 0,
    });
    await expect(referenced).rejects.toBeInstanceOf(APICallError);
    await expect(referenced).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/store/),
    });
    const sent = await generateText({
      model: aiProvider()(MODEL),
      messages,
      maxOutputTokens: 16,
      temperature: 0,
      providerOptions: { openai: { store: false } },
    });
    expect(sent.text.length).toBeGreaterThan(0);
  });

  it('openai.chat(model) uses /v1/chat/completions and answers too', async () => {
    const result = await generateText({
      model: aiProvider().chat(MODEL),
      prompt: 'What is consideration?',
      maxOutputTokens: 16,
      temperature: 0,
    });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.response.id).toMatch(/^chatcmpl/);
  });

  it('a wrong key is the AI SDK’s 401 APICallError', async () => {
    await expect(
      generateText({ model: aiProvider('sk-aic-wrong')(MODEL), prompt: 'hi', maxRetries: 0 }),
    ).rejects.toMatchObject({ statusCode: 401 });
  });
});
