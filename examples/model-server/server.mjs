#!/usr/bin/env node
// An OpenAI-compatible HTTP server for aicloud-tiny models (node:http only, no dependencies).
//
//   node examples/model-server/server.mjs --model DIR [--port 8000] [--host 127.0.0.1] [--name NAME]
//   node examples/model-server/server.mjs --model DIR --socket PATH [--name NAME]   (a unix socket, mode 0600)
//   [--token-interval-ms N] streams at most a token per N ms, as a GPU decodes (default: as fast as it can)
//
// Endpoints: GET /health, GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions (with SSE
// streaming and stream_options.include_usage; tools with tool_choice required or a named function, and
// response_format json_object/json_schema, constrained by structured-output.mjs), POST /v1/completions,
// POST /v1/embeddings. `ignore_eos: true` (as vLLM) generates until max_tokens.
// Prints `listening on http://HOST:PORT` (or `listening on unix:PATH`) once ready; exits 0 on SIGTERM/SIGINT. An access log goes to
// stderr unless --quiet 1 or MODEL_SERVER_QUIET=1.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, join, resolve } from 'node:path';
import { TinyLM } from '../tiny-lm/model.mjs';
import { chooseTool, createWordSource, generateValue, structuredText } from './structured-output.mjs';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_TOKENS_LIMIT = 2048;
const MAX_EMBEDDING_INPUTS = 2048;
const MAX_CHOICES = 8;
const SHUTDOWN_GRACE_MS = 3000;
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

// ---------------------------------------------------------------------------------------------
// Arguments and model

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node server.mjs --model DIR [--port 8000] [--host 127.0.0.1 | --socket PATH] [--name NAME]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!match) usage(`unexpected argument ${argv[i]}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) usage(`${argv[i - 1]} needs a value`);
    args[match[1]] = value;
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
if (!args.model) usage('--model DIR is required');
const modelDir = resolve(args.model);
const port = Number(args.port ?? process.env.PORT ?? 8000);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad --port ${args.port}`);
const host = args.host ?? '127.0.0.1';
const quiet = args.quiet === 'true' || args.quiet === '1' || process.env.MODEL_SERVER_QUIET === '1';
// Streams at most one token per this many ms (0: as fast as the CPU goes), to behave like a GPU decoding.
const tokenIntervalMs = Number(args['token-interval-ms'] ?? 0);
if (!Number.isFinite(tokenIntervalMs) || tokenIntervalMs < 0)
  usage(`bad --token-interval-ms ${args['token-interval-ms']}`);

let model;
try {
  model = TinyLM.load(modelDir);
} catch (error) {
  process.stderr.write(`model-server: cannot load ${modelDir}: ${error.message}\n`);
  process.exit(1);
}
const modelFile = join(modelDir, 'MODEL');
const modelName =
  args.name || (existsSync(modelFile) ? readFileSync(modelFile, 'utf8').trim() : '') || basename(modelDir);
const modelCreated = Math.floor(statSync(join(modelDir, 'model.safetensors')).mtimeMs / 1000);

// ---------------------------------------------------------------------------------------------
// Errors and helpers

class ApiError extends Error {
  constructor(status, message, param = null, code = null, type = 'invalid_request_error') {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
    this.type = type;
  }

  get body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const invalid = (message, param, code = 'invalid_value') => new ApiError(400, message, param, code);

function newId(prefix) {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const absent = (value) => value === undefined || value === null;

function describe(value) {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function optionalInteger(body, name, min, max) {
  const value = body[name];
  if (absent(value)) return undefined;
  if (!Number.isInteger(value))
    throw invalid(`'${name}' must be an integer, got ${describe(value)}`, name, 'invalid_type');
  if (value < min || value > max)
    throw invalid(`'${name}' must be between ${min} and ${max}, got ${value}`, name);
  return value;
}

function optionalNumber(body, name, min, max) {
  const value = body[name];
  if (absent(value)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(`'${name}' must be a number, got ${describe(value)}`, name, 'invalid_type');
  }
  if (value < min || value > max)
    throw invalid(`'${name}' must be between ${min} and ${max}, got ${value}`, name);
  return value;
}

function optionalBoolean(body, name) {
  const value = body[name];
  if (absent(value)) return undefined;
  if (typeof value !== 'boolean')
    throw invalid(`'${name}' must be a boolean, got ${describe(value)}`, name, 'invalid_type');
  return value;
}

/** The sampling options shared by chat and text completions. */
function samplingOptions(body, defaultMaxTokens) {
  if (!absent(body.model) && typeof body.model !== 'string') {
    throw invalid(`'model' must be a string, got ${describe(body.model)}`, 'model', 'invalid_type');
  }
  const maxCompletionTokens = optionalInteger(body, 'max_completion_tokens', 1, MAX_TOKENS_LIMIT);
  const maxTokens = maxCompletionTokens ?? optionalInteger(body, 'max_tokens', 1, MAX_TOKENS_LIMIT);
  const temperature = optionalNumber(body, 'temperature', 0, 2);
  const topP = optionalNumber(body, 'top_p', 0, 1);
  const seed = optionalInteger(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const n = optionalInteger(body, 'n', 1, MAX_CHOICES) ?? 1;
  let stop = [];
  if (typeof body.stop === 'string') stop = [body.stop];
  else if (Array.isArray(body.stop)) {
    if (body.stop.length > 4 || body.stop.some((s) => typeof s !== 'string')) {
      throw invalid("'stop' must be a string or an array of at most 4 strings", 'stop');
    }
    stop = body.stop;
  } else if (!absent(body.stop))
    throw invalid(`'stop' must be a string or an array, got ${describe(body.stop)}`, 'stop');
  const stream = optionalBoolean(body, 'stream') ?? false;
  const ignoreEos = optionalBoolean(body, 'ignore_eos') ?? false;
  let includeUsage = false;
  if (!absent(body.stream_options)) {
    if (!isObject(body.stream_options)) throw invalid("'stream_options' must be an object", 'stream_options');
    if (!stream) throw invalid("'stream_options' is only allowed when 'stream' is true", 'stream_options');
    includeUsage = optionalBoolean(body.stream_options, 'include_usage') ?? false;
  }
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0)) {
    throw invalid(
      'logprobs are not supported by the aicloud-tiny runtime',
      'logprobs',
      'unsupported_parameter',
    );
  }
  // Unset temperature/top_p fall back to the model's generation_config.json (as vLLM does).
  return {
    maxTokens: maxTokens ?? defaultMaxTokens,
    temperature,
    topP,
    seed,
    n,
    stop,
    stream,
    includeUsage,
    ignoreEos,
  };
}

/** Validates chat messages and returns the prompt the model answers: the last user message. */
function chatPrompt(messages) {
  if (!Array.isArray(messages)) {
    throw invalid(
      `'messages' must be an array of message objects, got ${describe(messages)}`,
      'messages',
      'invalid_type',
    );
  }
  if (messages.length === 0)
    throw invalid("'messages' must contain at least one message", 'messages', 'empty_array');
  const texts = messages.map((message, i) => {
    const at = `messages[${i}]`;
    if (!isObject(message))
      throw invalid(`'${at}' must be an object, got ${describe(message)}`, at, 'invalid_type');
    if (typeof message.role !== 'string') {
      throw invalid(
        `'${at}.role' must be a string, got ${describe(message.role)}`,
        `${at}.role`,
        'invalid_type',
      );
    }
    if (!ROLES.has(message.role)) {
      throw invalid(`'${at}.role' must be one of ${[...ROLES].join(', ')}`, `${at}.role`);
    }
    const content = message.content;
    if (typeof content === 'string') return { role: message.role, text: content };
    if (content === null && message.role === 'assistant') return { role: message.role, text: '' };
    if (Array.isArray(content) && content.length > 0) {
      const parts = content.map((part, j) => {
        if (isObject(part) && (part.type === 'text' || part.type === 'refusal')) {
          const text = part.type === 'text' ? part.text : part.refusal;
          if (typeof text === 'string') return text;
        }
        throw invalid(
          `'${at}.content[${j}]' must be a text part ({"type": "text", "text": string}); this runtime reads text only`,
          `${at}.content[${j}]`,
          'invalid_type',
        );
      });
      return { role: message.role, text: parts.join('\n') };
    }
    throw invalid(
      `'${at}.content' must be a string or an array of text parts, got ${describe(content)}`,
      `${at}.content`,
      'invalid_type',
    );
  });
  const lastUser = texts.findLast((m) => m.role === 'user');
  return (lastUser ?? texts.findLast((m) => m.text.trim() !== '') ?? texts[texts.length - 1]).text;
}

/**
 * What a chat request asks beyond text: the tool to call (tool_choice required or a named function; `auto`
 * and `none` answer in text) or the response_format to hold to. Null for plain text.
 */
function constraintOf(body) {
  const tools = body.tools;
  if (!absent(tools)) {
    if (!Array.isArray(tools)) throw invalid("'tools' must be an array", 'tools', 'invalid_type');
    tools.forEach((tool, i) => {
      if (
        !isObject(tool) ||
        tool.type !== 'function' ||
        !isObject(tool.function) ||
        typeof tool.function.name !== 'string'
      )
        throw invalid(`'tools[${i}]' must be {"type": "function", "function": {"name": ...}}`, `tools[${i}]`);
    });
  }
  const choice = body.tool_choice;
  if (!absent(choice)) {
    if (!Array.isArray(tools) || tools.length === 0)
      throw invalid("'tool_choice' is only allowed when 'tools' are specified", 'tool_choice');
    const named =
      isObject(choice) && choice.type === 'function' && isObject(choice.function)
        ? choice.function.name
        : null;
    if (!['none', 'auto', 'required'].includes(choice) && named === null)
      throw invalid("'tool_choice' must be 'none', 'auto', 'required' or a named function", 'tool_choice');
    if (named !== null && !tools.some((tool) => tool.function.name === named))
      throw invalid(`'tool_choice' names '${named}', which is not in 'tools'`, 'tool_choice');
  }
  for (const [i, message] of (body.messages ?? []).entries()) {
    if (message?.role === 'tool' && (typeof message.tool_call_id !== 'string' || message.tool_call_id === ''))
      throw invalid(
        `'messages[${i}].tool_call_id' is required for a tool message`,
        `messages[${i}].tool_call_id`,
        'missing_required_parameter',
      );
  }
  const format = body.response_format;
  if (!absent(format)) {
    if (!isObject(format) || !['text', 'json_object', 'json_schema'].includes(format.type))
      throw invalid(
        "'response_format.type' must be 'text', 'json_object' or 'json_schema'",
        'response_format.type',
      );
    if (
      format.type === 'json_schema' &&
      (!isObject(format.json_schema) || typeof format.json_schema.name !== 'string')
    )
      throw invalid(
        "'response_format.json_schema' must be an object with a 'name'",
        'response_format.json_schema',
      );
  }
  if (Array.isArray(tools) && tools.length > 0 && (choice === 'required' || isObject(choice)))
    return { kind: 'tool', tools, choice };
  if (isObject(format) && format.type !== 'text') return { kind: 'json', format };
  return null;
}

/** One constrained answer: a tool call (its arguments match the tool's parameters) or JSON text. */
function constrainedAnswer(constraint, prompt, options, index) {
  const source = createWordSource(model, prompt, {
    temperature: options.temperature,
    topP: options.topP,
    seed: seedFor(options, index),
  });
  if (constraint.kind === 'tool') {
    const tool = chooseTool(constraint.tools, constraint.choice, prompt);
    const parameters = tool.function.parameters ?? { type: 'object', properties: {} };
    const args = JSON.stringify(generateValue(parameters, source));
    return {
      text: null,
      toolCall: {
        id: newId('call'),
        type: 'function',
        function: { name: tool.function.name, arguments: args },
      },
      completionTokens: model.countTokens(args) + 1,
    };
  }
  const text = structuredText(constraint.format, source);
  return { text, toolCall: null, completionTokens: model.countTokens(text) };
}

/** A text cut into stream pieces of a few characters (about a token each). */
function pieces(text) {
  return text.match(/[\s\S]{1,6}/g) ?? [];
}

function seedFor(options, index) {
  return options.seed === undefined ? undefined : (options.seed + index) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

function baseHeaders(requestId) {
  return {
    'x-request-id': requestId,
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'x-request-id',
  };
}

function sendJson(res, status, body, headers) {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolveBody, rejectBody) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        rejectBody(
          new ApiError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`, null, 'request_too_large'),
        );
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', rejectBody);
  });
}

async function readJson(req) {
  const text = await readBody(req);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      'We could not parse the JSON body of your request. The request body must be a JSON object.',
      null,
      null,
    );
  }
  if (!isObject(body)) throw new ApiError(400, 'The request body must be a JSON object.', null, null);
  return body;
}

const tick = () =>
  new Promise((resolveTick) =>
    tokenIntervalMs > 0 ? setTimeout(resolveTick, tokenIntervalMs) : setImmediate(resolveTick),
  );

/** An SSE writer that notices when the client goes away. */
function openStream(res, headers) {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.socket?.setNoDelay(true);
  const state = { closed: false };
  res.on('close', () => {
    state.closed = true;
  });
  return {
    get closed() {
      return state.closed;
    },
    send(data) {
      if (!state.closed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    end() {
      if (!state.closed) res.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Endpoints

function listModels() {
  return { object: 'list', data: [modelObject()] };
}

function modelObject() {
  return { id: modelName, object: 'model', created: modelCreated, owned_by: 'aicloud' };
}

async function chatCompletions(req, res, headers) {
  const body = await readJson(req);
  const prompt = chatPrompt(body.messages);
  const options = samplingOptions(body, undefined);
  const constraint = constraintOf(body);
  const id = newId('chatcmpl');
  const created = now();
  const generateOptions = (index) => ({
    maxTokens: options.maxTokens,
    temperature: options.temperature,
    topP: options.topP,
    seed: seedFor(options, index),
    stop: options.stop,
    ignoreEos: options.ignoreEos,
    mode: 'answer',
  });

  if (!options.stream) {
    const choices = [];
    let promptTokens = 0;
    let completionTokens = 0;
    for (let index = 0; index < options.n; index++) {
      if (constraint) {
        const answer = constrainedAnswer(constraint, prompt, options, index);
        promptTokens = model.countTokens(prompt);
        completionTokens += answer.completionTokens;
        choices.push({
          index,
          message: {
            role: 'assistant',
            content: answer.text,
            refusal: null,
            ...(answer.toolCall ? { tool_calls: [answer.toolCall] } : {}),
          },
          logprobs: null,
          finish_reason: answer.toolCall ? 'tool_calls' : 'stop',
        });
        continue;
      }
      const result = model.generate(prompt, generateOptions(index));
      promptTokens = result.promptTokens;
      completionTokens += result.completionTokens;
      choices.push({
        index,
        message: { role: 'assistant', content: result.text, refusal: null },
        logprobs: null,
        finish_reason: result.finishReason,
      });
    }
    sendJson(
      res,
      200,
      {
        id,
        object: 'chat.completion',
        created,
        model: modelName,
        system_fingerprint: 'aicloud-tiny',
        choices,
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      },
      headers,
    );
    return;
  }

  const stream = openStream(res, headers);
  const chunk = (choices) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: modelName,
    system_fingerprint: 'aicloud-tiny',
    choices,
    ...(options.includeUsage ? { usage: null } : {}),
  });
  let promptTokens = 0;
  let completionTokens = 0;
  try {
    for (let index = 0; index < options.n && !stream.closed; index++) {
      if (constraint) {
        const answer = constrainedAnswer(constraint, prompt, options, index);
        promptTokens = model.countTokens(prompt);
        completionTokens += answer.completionTokens;
        if (answer.toolCall) {
          const { id: callId, type, function: call } = answer.toolCall;
          stream.send(
            chunk([
              {
                index,
                delta: {
                  role: 'assistant',
                  content: null,
                  tool_calls: [{ index: 0, id: callId, type, function: { name: call.name, arguments: '' } }],
                },
                logprobs: null,
                finish_reason: null,
              },
            ]),
          );
          for (const piece of pieces(call.arguments)) {
            if (stream.closed) return;
            stream.send(
              chunk([
                {
                  index,
                  delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] },
                  logprobs: null,
                  finish_reason: null,
                },
              ]),
            );
            await tick();
          }
        } else {
          stream.send(
            chunk([
              { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
            ]),
          );
          for (const piece of pieces(answer.text)) {
            if (stream.closed) return;
            stream.send(chunk([{ index, delta: { content: piece }, logprobs: null, finish_reason: null }]));
            await tick();
          }
        }
        stream.send(
          chunk([
            { index, delta: {}, logprobs: null, finish_reason: answer.toolCall ? 'tool_calls' : 'stop' },
          ]),
        );
        continue;
      }
      stream.send(
        chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
      );
      for (const event of model.stream(prompt, generateOptions(index))) {
        if (stream.closed) return;
        if (event.done) {
          promptTokens = event.promptTokens;
          completionTokens += event.completionTokens;
          stream.send(chunk([{ index, delta: {}, logprobs: null, finish_reason: event.finishReason }]));
          break;
        }
        if (event.text) {
          stream.send(
            chunk([{ index, delta: { content: event.text }, logprobs: null, finish_reason: null }]),
          );
        }
        await tick();
      }
    }
    if (stream.closed) return;
    if (options.includeUsage) {
      stream.send({
        id,
        object: 'chat.completion.chunk',
        created,
        model: modelName,
        system_fingerprint: 'aicloud-tiny',
        choices: [],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      });
    }
    stream.send('[DONE]');
  } catch (error) {
    stream.send(new ApiError(500, `generation failed: ${error.message}`, null, null, 'server_error').body);
  }
  stream.end();
}

async function completions(req, res, headers) {
  const body = await readJson(req);
  let prompts;
  if (typeof body.prompt === 'string') prompts = [body.prompt];
  else if (
    Array.isArray(body.prompt) &&
    body.prompt.length > 0 &&
    body.prompt.every((p) => typeof p === 'string')
  ) {
    prompts = body.prompt;
  } else if (
    Array.isArray(body.prompt) &&
    body.prompt.length > 0 &&
    body.prompt.every((p) => typeof p !== 'string')
  ) {
    throw invalid(
      "token-id prompts are not supported by the aicloud-tiny runtime; send 'prompt' as text",
      'prompt',
      'unsupported_value',
    );
  } else {
    throw invalid(
      `'prompt' must be a string or an array of strings, got ${describe(body.prompt)}`,
      'prompt',
      'invalid_type',
    );
  }
  const options = samplingOptions(body, 16);
  const echo = optionalBoolean(body, 'echo') ?? false;
  const id = newId('cmpl');
  const created = now();
  const jobs = prompts.flatMap((prompt, p) =>
    Array.from({ length: options.n }, (_, j) => ({ prompt, index: p * options.n + j })),
  );
  const generateOptions = (index) => ({
    maxTokens: options.maxTokens,
    temperature: options.temperature,
    topP: options.topP,
    seed: seedFor(options, index),
    stop: options.stop,
    ignoreEos: options.ignoreEos,
    mode: 'continue',
  });

  if (!options.stream) {
    let promptTokens = 0;
    let completionTokens = 0;
    const choices = jobs.map(({ prompt, index }) => {
      const result = model.generate(prompt, generateOptions(index));
      if (index % options.n === 0) promptTokens += result.promptTokens;
      completionTokens += result.completionTokens;
      return {
        index,
        text: (echo ? prompt : '') + result.text,
        logprobs: null,
        finish_reason: result.finishReason,
      };
    });
    sendJson(
      res,
      200,
      {
        id,
        object: 'text_completion',
        created,
        model: modelName,
        system_fingerprint: 'aicloud-tiny',
        choices,
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      },
      headers,
    );
    return;
  }

  const stream = openStream(res, headers);
  const chunk = (choices) => ({
    id,
    object: 'text_completion',
    created,
    model: modelName,
    system_fingerprint: 'aicloud-tiny',
    choices,
    ...(options.includeUsage ? { usage: null } : {}),
  });
  let promptTokens = 0;
  let completionTokens = 0;
  try {
    for (const { prompt, index } of jobs) {
      if (stream.closed) return;
      if (echo && prompt) stream.send(chunk([{ index, text: prompt, logprobs: null, finish_reason: null }]));
      for (const event of model.stream(prompt, generateOptions(index))) {
        if (stream.closed) return;
        if (event.done) {
          if (index % options.n === 0) promptTokens += event.promptTokens;
          completionTokens += event.completionTokens;
          stream.send(chunk([{ index, text: '', logprobs: null, finish_reason: event.finishReason }]));
          break;
        }
        if (event.text)
          stream.send(chunk([{ index, text: event.text, logprobs: null, finish_reason: null }]));
        await tick();
      }
    }
    if (stream.closed) return;
    if (options.includeUsage) {
      stream.send({
        id,
        object: 'text_completion',
        created,
        model: modelName,
        system_fingerprint: 'aicloud-tiny',
        choices: [],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      });
    }
    stream.send('[DONE]');
  } catch (error) {
    stream.send(new ApiError(500, `generation failed: ${error.message}`, null, null, 'server_error').body);
  }
  stream.end();
}

function float32Base64(vector) {
  const buffer = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) buffer.writeFloatLE(vector[i], i * 4);
  return buffer.toString('base64');
}

async function embeddings(req, res, headers) {
  const body = await readJson(req);
  if (!absent(body.model) && typeof body.model !== 'string') {
    throw invalid(`'model' must be a string, got ${describe(body.model)}`, 'model', 'invalid_type');
  }
  let inputs;
  if (typeof body.input === 'string') inputs = [body.input];
  else if (
    Array.isArray(body.input) &&
    body.input.length > 0 &&
    body.input.every((x) => typeof x === 'string')
  ) {
    inputs = body.input;
  } else if (
    Array.isArray(body.input) &&
    body.input.length > 0 &&
    body.input.every((x) => typeof x !== 'string')
  ) {
    throw invalid(
      "token-id input is not supported by the aicloud-tiny runtime; send 'input' as text",
      'input',
      'unsupported_value',
    );
  } else {
    throw invalid(
      `'input' must be a string or a non-empty array of strings, got ${describe(body.input)}`,
      'input',
      'invalid_type',
    );
  }
  if (inputs.length > MAX_EMBEDDING_INPUTS) {
    throw invalid(`'input' may hold at most ${MAX_EMBEDDING_INPUTS} items`, 'input');
  }
  if (inputs.some((text) => text === '')) throw invalid("'input' cannot contain empty strings", 'input');
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw invalid("'encoding_format' must be 'float' or 'base64'", 'encoding_format');
  }
  const dimensions = optionalInteger(body, 'dimensions', 1, model.embedDim) ?? model.embedDim;
  let promptTokens = 0;
  const data = inputs.map((text, index) => {
    promptTokens += model.countTokens(text);
    let vector = model.embed(text);
    if (dimensions < vector.length) {
      vector = vector.slice(0, dimensions);
      const norm = Math.hypot(...vector) || 1;
      for (let i = 0; i < vector.length; i++) vector[i] /= norm;
    }
    return {
      object: 'embedding',
      index,
      embedding: format === 'base64' ? float32Base64(vector) : Array.from(vector),
    };
  });
  sendJson(
    res,
    200,
    {
      object: 'list',
      data,
      model: modelName,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    },
    headers,
  );
}

const routes = {
  '/v1/chat/completions': { POST: chatCompletions },
  '/v1/completions': { POST: completions },
  '/v1/embeddings': { POST: embeddings },
  '/v1/models': { GET: (_req, res, headers) => sendJson(res, 200, listModels(), headers) },
  '/health': { GET: (_req, res, headers) => sendJson(res, 200, { status: 'ok', model: modelName }, headers) },
};

let closing = false;
const server = createServer({ noDelay: true, keepAliveTimeout: 5000 }, async (req, res) => {
  const started = performance.now();
  const requestId =
    (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id']) || newId('req');
  const headers = baseHeaders(requestId);
  if (closing) headers.connection = 'close';
  const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
  try {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...headers,
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers':
          req.headers['access-control-request-headers'] ??
          'authorization, content-type, openai-organization, openai-project, x-request-id, x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    let handler;
    if (path.startsWith('/v1/models/') && req.method === 'GET') {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (id !== modelName)
        throw new ApiError(404, `The model '${id}' does not exist`, 'model', 'model_not_found');
      handler = (_req, response, h) => sendJson(response, 200, modelObject(), h);
    } else {
      const route = routes[path];
      if (!route) throw new ApiError(404, `Unknown request URL: ${req.method} ${path}`, null, 'unknown_url');
      handler = route[req.method ?? 'GET'];
      if (!handler) {
        throw new ApiError(405, `Method ${req.method} is not allowed on ${path}`, null, 'method_not_allowed');
      }
    }
    await handler(req, res, headers);
  } catch (error) {
    const apiError =
      error instanceof ApiError
        ? error
        : new ApiError(500, `internal error: ${error?.message}`, null, null, 'server_error');
    if (apiError.status >= 500) process.stderr.write(`model-server: ${error?.stack ?? error}\n`);
    if (!res.headersSent) sendJson(res, apiError.status, apiError.body, headers);
    else res.end();
  } finally {
    if (!quiet) {
      process.stderr.write(
        `${req.method} ${path} ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms ${requestId}\n`,
      );
    }
  }
});

function shutdown(signal) {
  if (closing) return;
  closing = true;
  process.stderr.write(`model-server: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_GRACE_MS).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.on('error', (error) => {
  process.stderr.write(`model-server: ${error.message}\n`);
  process.exit(1);
});
if (args.socket) {
  // Only the owner (the replica's own uid) and root (the platform's gateway) may connect.
  rmSync(args.socket, { force: true });
  const previous = process.umask(0o177);
  server.listen(args.socket, () => {
    process.umask(previous);
    process.stdout.write(`listening on unix:${args.socket}\n`);
  });
} else {
  server.listen(port, host, () => {
    const address = server.address();
    const shownHost = host.includes(':') ? `[${host}]` : host;
    process.stdout.write(`listening on http://${shownHost}:${address.port}\n`);
  });
}
