import { randomUUID } from 'node:crypto';
import { absent, checkStreamOptions, isObject } from './gateway-request-check.ts';
import { OpenAIError } from './openai-error.ts';

// `POST /v1/responses` (OpenAI's Responses API), served by translation: a request becomes the chat completion
// request that answers it, so keys, limits, quota, budget, metering, telemetry, canaries and the chat
// checks apply unchanged; the chat answer (or its SSE chunks) becomes a Response object (or its events).
// A parameter outside the served subset is refused, OpenAI's way, never dropped.

/** Top-level parameters served (translated, or echoed in the Response). */
const SERVED = new Set([
  'model',
  'input',
  'instructions',
  'max_output_tokens',
  'temperature',
  'top_p',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'text',
  'stream',
  'stream_options',
  'store',
  'metadata',
  'user',
  'truncation',
  'background',
  'include',
]);

/** The Responses API's other parameters: refused when set (null is their default, and accepted). */
const UNSUPPORTED: Record<string, string> = {
  previous_response_id: 'aicloud endpoints store no responses: send the whole conversation as input',
  conversation: 'aicloud endpoints store no conversations: send the whole conversation as input',
  prompt: 'aicloud endpoints store no prompt templates',
  reasoning: 'reasoning options are not served by aicloud runtimes',
  top_logprobs: 'log probabilities are not served through /v1/responses',
  max_tool_calls: 'built-in tools are not served by aicloud endpoints',
  service_tier: 'service tiers are not offered by aicloud endpoints',
  safety_identifier: 'safety identifiers are not used by aicloud endpoints',
  prompt_cache_key: 'prompt caching is not served through /v1/responses',
  prompt_cache_retention: 'prompt caching is not served through /v1/responses',
  prompt_cache_options: 'prompt caching is not served through /v1/responses',
  context_management: 'context management (compaction) is not served by aicloud endpoints',
  moderation: 'moderation is not served by aicloud endpoints',
};

const ROLES = ['user', 'assistant', 'system', 'developer'];
const TOOL_KEYS = new Set(['type', 'name', 'description', 'parameters', 'strict']);

function invalid(message: string, param: string, code = 'invalid_value') {
  return new OpenAIError(400, message, 'invalid_request_error', code, param);
}

function unsupported(param: string, message: string, code = 'unsupported_parameter') {
  return new OpenAIError(400, message, 'invalid_request_error', code, param);
}

const newId = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '')}`;

type Item = Record<string, unknown>;
type ChatMessage = Record<string, unknown>;

/** What the Response object repeats of its request. */
interface Echo {
  model: unknown;
  instructions: string | null;
  maxOutputTokens: number | null;
  temperature: unknown;
  topP: unknown;
  tools: Item[];
  toolChoice: unknown;
  parallelToolCalls: boolean;
  format: unknown;
  metadata: Record<string, string>;
  user: string | undefined;
}

/** A chat completion answer, as far as a Response is made of it. */
export interface ChatAnswer {
  model?: unknown;
  choices?: {
    message?: { content?: unknown; refusal?: unknown; tool_calls?: unknown };
    finish_reason?: unknown;
  }[];
  usage?: ChatUsage;
}

interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: unknown } | null;
}

/** A tool call's piece in a chat SSE chunk. */
interface ChatToolCallDelta {
  index?: unknown;
  id?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}

/** A chat SSE chunk, as far as Response events are made of it. */
interface ChatChunk {
  error?: unknown;
  usage?: ChatUsage | null;
  choices?: {
    delta?: { role?: unknown; content?: unknown; tool_calls?: ChatToolCallDelta[] };
    finish_reason?: unknown;
  }[];
}

/** A message item's content as chat's: a string, or its parts (`input_text`/`output_text` as `text`, `refusal`). */
function contentOf(content: unknown, role: string, at: string): unknown {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content))
    throw invalid(
      `Invalid type for '${at}.content': expected a string or an array of content parts.`,
      `${at}.content`,
      'invalid_type',
    );
  const accepted = role === 'assistant' ? ['output_text', 'refusal'] : ['input_text'];
  return content.map((part, index) => {
    const where = `${at}.content[${index}]`;
    if (!isObject(part))
      throw invalid(`Invalid type for '${where}': expected a content part object.`, where, 'invalid_type');
    if (['input_image', 'input_file', 'input_audio'].includes(part.type as string))
      throw unsupported(
        `${where}.type`,
        `Unsupported value: '${part.type}': aicloud endpoints read text content only (${accepted.join(', ')}).`,
        'unsupported_value',
      );
    if (!accepted.includes(part.type as string))
      throw invalid(
        `Invalid value: '${String(part.type)}'. Supported values are: ${accepted.map((type) => `'${type}'`).join(' and ')}.`,
        `${where}.type`,
      );
    const field = part.type === 'refusal' ? 'refusal' : 'text';
    if (typeof part[field] !== 'string')
      throw invalid(
        `Invalid type for '${where}.${field}': expected a string.`,
        `${where}.${field}`,
        'invalid_type',
      );
    return part.type === 'refusal'
      ? { type: 'refusal', refusal: part.refusal }
      : { type: 'text', text: part.text };
  });
}

function requiredString(item: Item, name: string, at: string): string {
  const value = item[name];
  if (typeof value === 'string' && value.length > 0) return value;
  if (absent(value))
    throw invalid(
      `Missing required parameter: '${at}.${name}'.`,
      `${at}.${name}`,
      'missing_required_parameter',
    );
  throw invalid(
    `Invalid type for '${at}.${name}': expected a non-empty string.`,
    `${at}.${name}`,
    'invalid_type',
  );
}

/** The chat messages of `instructions` and `input`, and the Responses parameter each comes from. */
function messagesOf(request: Record<string, unknown>): { messages: ChatMessage[]; origins: string[] } {
  const messages: ChatMessage[] = [];
  const origins: string[] = [];
  const add = (message: ChatMessage, origin: string) => {
    messages.push(message);
    origins.push(origin);
  };
  if (!absent(request.instructions)) {
    if (typeof request.instructions !== 'string')
      throw invalid("Invalid type for 'instructions': expected a string.", 'instructions', 'invalid_type');
    add({ role: 'system', content: request.instructions }, 'instructions');
  }
  const input = request.input;
  if (typeof input === 'string') {
    add({ role: 'user', content: input }, 'input');
    return { messages, origins };
  }
  if (absent(input))
    throw invalid("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  if (!Array.isArray(input) || input.length === 0)
    throw invalid(
      "Invalid 'input': expected a string or a non-empty array of input items.",
      'input',
      Array.isArray(input) ? 'empty_array' : 'invalid_type',
    );
  input.forEach((item, index) => {
    const at = `input[${index}]`;
    if (!isObject(item))
      throw invalid(`Invalid type for '${at}': expected an input item object.`, at, 'invalid_type');
    // `{"id": ...}` alone is an item reference; `{"role", "content"}` without a type is a message.
    const type =
      item.type ?? (item.role === undefined && item.id !== undefined ? 'item_reference' : 'message');
    if (type === 'message') {
      if (typeof item.role !== 'string' || !ROLES.includes(item.role))
        throw invalid(
          `Invalid value for '${at}.role': expected one of ${ROLES.map((role) => `'${role}'`).join(', ')}.`,
          `${at}.role`,
        );
      add({ role: item.role, content: contentOf(item.content, item.role, at) }, at);
    } else if (type === 'function_call') {
      const call = {
        id: requiredString(item, 'call_id', at),
        type: 'function',
        function: { name: requiredString(item, 'name', at), arguments: item.arguments },
      };
      if (typeof item.arguments !== 'string')
        throw invalid(
          `Invalid type for '${at}.arguments': expected a string.`,
          `${at}.arguments`,
          'invalid_type',
        );
      // The calls of one turn follow its text: one assistant message with its tool calls, as chat has it.
      const last = messages.at(-1);
      if (last?.role === 'assistant')
        last.tool_calls = [...((last.tool_calls as unknown[] | undefined) ?? []), call];
      else add({ role: 'assistant', content: null, tool_calls: [call] }, at);
    } else if (type === 'function_call_output') {
      const callId = requiredString(item, 'call_id', at);
      const output = item.output;
      let content: string;
      if (typeof output === 'string') content = output;
      else if (Array.isArray(output))
        content = (contentOf(output, 'tool', `${at}.output`) as { text: string }[])
          .map((part) => part.text)
          .join('');
      else
        throw invalid(
          `Invalid type for '${at}.output': expected a string or an array of input_text parts.`,
          `${at}.output`,
          'invalid_type',
        );
      add({ role: 'tool', tool_call_id: callId, content }, at);
    } else if (type === 'item_reference') {
      throw unsupported(
        `${at}.type`,
        `Unsupported value: 'item_reference': aicloud endpoints store no items or responses (store is accepted, nothing is kept); send the item itself (with the Vercel AI SDK: providerOptions.openai.store = false).`,
        'unsupported_value',
      );
    } else {
      throw unsupported(
        `${at}.type`,
        `Unsupported value: '${String(type)}': aicloud endpoints serve the input items 'message', 'function_call' and 'function_call_output'.`,
        'unsupported_value',
      );
    }
  });
  return { messages, origins };
}

/** Function tools, in chat's form; any other tool type is refused. */
function toolsOf(tools: unknown): Item[] | undefined {
  if (absent(tools)) return undefined;
  if (!Array.isArray(tools))
    throw invalid("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
  return tools.map((tool, index) => {
    const at = `tools[${index}]`;
    if (!isObject(tool))
      throw invalid(`Invalid type for '${at}': expected a tool object.`, at, 'invalid_type');
    if (tool.type !== 'function')
      throw unsupported(
        `${at}.type`,
        `Unsupported value: '${String(tool.type)}': aicloud endpoints serve function tools only (no built-in tools such as web_search, file_search or code_interpreter).`,
        'unsupported_value',
      );
    for (const name in tool)
      if (!TOOL_KEYS.has(name) && !absent(tool[name]))
        throw unsupported(
          `${at}.${name}`,
          `Unsupported parameter: '${at}.${name}' is not served by aicloud endpoints.`,
        );
    const { name, description, parameters, strict } = tool;
    return {
      type: 'function',
      function: {
        name,
        ...(absent(description) ? {} : { description }),
        ...(absent(parameters) ? {} : { parameters }),
        ...(absent(strict) ? {} : { strict }),
      },
    };
  });
}

/** `tool_choice` in chat's form: a mode, or `{"type": "function", "function": {"name"}}`. */
function toolChoiceOf(choice: unknown): unknown {
  if (!isObject(choice)) return choice;
  if (choice.type === 'function') return { type: 'function', function: { name: choice.name } };
  if (typeof choice.type === 'string')
    throw unsupported(
      'tool_choice.type',
      `Unsupported value: '${choice.type}': aicloud endpoints serve 'none', 'auto', 'required' and {"type": "function", "name": ...}.`,
      'unsupported_value',
    );
  return choice;
}

/** `text.format` as chat's `response_format`. */
function responseFormatOf(text: unknown): unknown {
  if (absent(text)) return undefined;
  if (!isObject(text)) throw invalid("Invalid type for 'text': expected an object.", 'text', 'invalid_type');
  for (const name in text) {
    if (name === 'format' || absent(text[name])) continue;
    if (name === 'verbosity')
      throw unsupported(
        'text.verbosity',
        "Unsupported parameter: 'text.verbosity' is not served by aicloud runtimes.",
      );
    throw invalid(`Unknown parameter: 'text.${name}'.`, `text.${name}`, 'unknown_parameter');
  }
  const format = text.format;
  if (!isObject(format) || format.type !== 'json_schema') return format ?? undefined;
  const { name, schema, strict, description } = format;
  return {
    type: 'json_schema',
    json_schema: {
      name,
      ...(absent(schema) ? {} : { schema }),
      ...(absent(strict) ? {} : { strict }),
      ...(absent(description) ? {} : { description }),
    },
  };
}

function metadataOf(metadata: unknown): Record<string, string> {
  if (absent(metadata)) return {};
  if (!isObject(metadata))
    throw invalid("Invalid type for 'metadata': expected an object.", 'metadata', 'invalid_type');
  const entries = Object.entries(metadata);
  if (entries.length > 16)
    throw invalid("Invalid 'metadata': at most 16 key-value pairs.", 'metadata', 'object_above_max_length');
  for (const [key, value] of entries) {
    if (key.length > 64)
      throw invalid(
        `Invalid 'metadata': the key '${key.slice(0, 64)}…' is longer than 64 characters.`,
        'metadata',
      );
    if (typeof value !== 'string' || value.length > 512)
      throw invalid(
        `Invalid 'metadata.${key}': expected a string of at most 512 characters.`,
        `metadata.${key}`,
      );
  }
  return metadata as Record<string, string>;
}

/** Refuses what the served subset cannot honour: the other Responses parameters, and values of served ones. */
function checkServed(request: Record<string, unknown>) {
  for (const name in request) {
    const value = request[name];
    if (SERVED.has(name)) continue;
    if (Object.hasOwn(UNSUPPORTED, name)) {
      if (absent(value)) continue;
      throw unsupported(name, `Unsupported parameter: '${name}': ${UNSUPPORTED[name]}.`);
    }
    throw invalid(`Unknown parameter: '${name}'.`, name, 'unknown_parameter');
  }
  if (!absent(request.include) && !(Array.isArray(request.include) && request.include.length === 0))
    throw unsupported(
      'include',
      "Unsupported parameter: 'include': no extra output data (logprobs, encrypted reasoning, tool sources) is served.",
    );
  if (!absent(request.background) && request.background !== false)
    throw unsupported(
      'background',
      "Unsupported value: 'background' responses are not served: aicloud endpoints store no responses to poll.",
      'unsupported_value',
    );
  if (!absent(request.truncation) && request.truncation !== 'disabled')
    throw request.truncation === 'auto'
      ? unsupported(
          'truncation',
          "Unsupported value: 'truncation' 'auto' is not served: a request longer than the model's context is refused (context_length_exceeded).",
          'unsupported_value',
        )
      : invalid(
          `Invalid value: '${String(request.truncation)}'. Supported values are: 'auto' and 'disabled'.`,
          'truncation',
        );
  if (!absent(request.store) && typeof request.store !== 'boolean')
    throw invalid("Invalid type for 'store': expected a boolean.", 'store', 'invalid_type');
  if (!absent(request.user) && typeof request.user !== 'string')
    throw invalid("Invalid type for 'user': expected a string.", 'user', 'invalid_type');
  checkStreamOptions(request);
  const options = request.stream_options;
  if (isObject(options)) {
    if (options.include_obfuscation === true)
      throw unsupported(
        'stream_options.include_obfuscation',
        "Unsupported value: 'stream_options.include_obfuscation': aicloud endpoints send no obfuscation padding.",
        'unsupported_value',
      );
  }
  const cap = request.max_output_tokens;
  if (!absent(cap)) {
    if (typeof cap !== 'number' || !Number.isInteger(cap))
      throw invalid(
        "Invalid type for 'max_output_tokens': expected an integer.",
        'max_output_tokens',
        'invalid_type',
      );
    if (cap < 16)
      throw invalid(
        `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${cap} instead.`,
        'max_output_tokens',
        'integer_below_min_value',
      );
  }
}

/** The Responses parameter named by a chat parameter (for the chat path's refusals). */
function responsesParam(param: string, origins: string[]): string {
  if (param === 'messages') return 'input';
  const message = /^messages[.[](\d+)/.exec(param);
  if (message) return origins[Number(message[1])] ?? 'input';
  if (param === 'max_tokens' || param === 'max_completion_tokens') return 'max_output_tokens';
  if (param.startsWith('response_format'))
    return param.replace(/^response_format(\.json_schema)?/, 'text.format');
  return param.replace(/^(tools\[\d+\])\.function/, '$1');
}

function statusOf(finishReason: unknown): { status: 'completed' | 'incomplete'; reason: string | null } {
  if (finishReason === 'length') return { status: 'incomplete', reason: 'max_output_tokens' };
  if (finishReason === 'content_filter') return { status: 'incomplete', reason: 'content_filter' };
  return { status: 'completed', reason: null };
}

const textPart = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });

/** A `POST /v1/responses` request translated to chat, and the answer translated back. */
export class ResponsesTranslation {
  /** The chat completion request that serves it. */
  readonly chat: Record<string, unknown>;
  private readonly id = newId('resp');
  private readonly createdAt: number;
  private readonly echo: Echo;
  private readonly origins: string[];
  // Streaming: the events not yet written, and the output items so far.
  private sequence = 0;
  private pending: string[] = [];
  private readonly items: Item[] = [];
  private message: { item: Item; index: number; text: string } | null = null;
  private call: { item: Item; index: number; chatIndex: unknown; arguments: string } | null = null;
  private finishReason: unknown = null;
  private usage: ChatUsage | null = null;
  private failed = false;

  constructor(body: unknown, now: number) {
    if (!isObject(body))
      throw new OpenAIError(400, 'The request body must be a JSON object.', 'invalid_request_error', null);
    checkServed(body);
    const { messages, origins } = messagesOf(body);
    const tools = toolsOf(body.tools);
    const format = responseFormatOf(body.text);
    this.origins = origins;
    this.createdAt = Math.floor(now / 1000);
    this.echo = {
      model: body.model,
      instructions: (body.instructions as string | undefined) ?? null,
      maxOutputTokens: (body.max_output_tokens as number | undefined) ?? null,
      temperature: body.temperature ?? null,
      topP: body.top_p ?? null,
      tools: ((body.tools as Item[] | undefined) ?? []).map((tool) => ({
        type: 'function',
        name: tool.name,
        description: tool.description ?? null,
        parameters: tool.parameters ?? null,
        strict: tool.strict ?? null,
      })),
      toolChoice: body.tool_choice ?? 'auto',
      parallelToolCalls: body.parallel_tool_calls !== false,
      format: (isObject(body.text) ? body.text.format : undefined) ?? { type: 'text' },
      metadata: metadataOf(body.metadata),
      user: body.user as string | undefined,
    };
    const chat: Record<string, unknown> = { model: body.model, messages };
    const set = (name: string, value: unknown) => {
      if (!absent(value)) chat[name] = value;
    };
    set('stream', body.stream);
    // The final event carries the usage: the runtime reports it at the end of the stream.
    if (body.stream === true) chat.stream_options = { include_usage: true };
    set('max_tokens', body.max_output_tokens);
    set('temperature', body.temperature);
    set('top_p', body.top_p);
    set('tools', tools);
    set('tool_choice', toolChoiceOf(body.tool_choice));
    set('parallel_tool_calls', body.parallel_tool_calls);
    set('response_format', format);
    set('user', body.user);
    this.chat = chat;
  }

  /** The chat path's refusal in the Responses API's words: the parameter named as the client sent it. */
  rename(error: unknown): unknown {
    if (!(error instanceof OpenAIError) || error.param === null) return error;
    const param = responsesParam(error.param, this.origins);
    return param === error.param
      ? error
      : new OpenAIError(
          error.status,
          error.message,
          error.type,
          error.code,
          param,
          error.retryAfter,
          error.shouldRetry,
        );
  }

  /** The Response object for a chat completion, with the tokens the gateway metered. */
  complete(answer: ChatAnswer, tokensIn: number, tokensOut: number, now: number): string {
    const choice = answer.choices?.[0];
    const message = choice?.message ?? {};
    const { status, reason } = statusOf(choice?.finish_reason);
    const text = typeof message.content === 'string' ? message.content : '';
    const refusal = typeof message.refusal === 'string' ? message.refusal : null;
    const calls = Array.isArray(message.tool_calls)
      ? (message.tool_calls as { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[])
      : [];
    const output: Item[] = [];
    if (text !== '' || refusal !== null || calls.length === 0)
      output.push({
        id: newId('msg'),
        type: 'message',
        status: status === 'completed' ? 'completed' : 'incomplete',
        role: 'assistant',
        content: [
          ...(text !== '' || refusal === null ? [textPart(text)] : []),
          ...(refusal !== null ? [{ type: 'refusal', refusal }] : []),
        ],
      });
    for (const call of calls)
      output.push({
        id: newId('fc'),
        type: 'function_call',
        status: 'completed',
        call_id: typeof call.id === 'string' ? call.id : newId('call'),
        name: call.function?.name ?? '',
        arguments: call.function?.arguments ?? '',
      });
    this.usage = answer.usage ?? null;
    return JSON.stringify(this.response(status, reason, output, tokensIn, tokensOut, now));
  }

  /** The stream's first events: `response.created` and `response.in_progress`. */
  open(): string {
    const response = this.response('in_progress', null, [], null, null, null);
    this.send('response.created', { response });
    this.send('response.in_progress', { response });
    return this.take();
  }

  /** Translates one chat SSE chunk; its events are then in `take()`. */
  chunk(event: ChatChunk): void {
    if (this.failed) return;
    if (isObject(event.error)) {
      this.failWith(
        typeof event.error.message === 'string' ? event.error.message : 'the model server failed',
      );
      return;
    }
    if (event.usage) this.usage = event.usage;
    // One choice: the Responses API has no `n`.
    const choice = event.choices?.[0];
    if (!choice) return;
    const delta = choice.delta;
    if (typeof delta?.content === 'string' && delta.content !== '') this.text(delta.content);
    for (const call of delta?.tool_calls ?? []) this.toolCall(call);
    if (typeof choice.finish_reason === 'string') this.finishReason = choice.finish_reason;
  }

  /** The events translated and not yet written. */
  take(): string {
    const out = this.pending.join('');
    this.pending = [];
    return out;
  }

  /** The stream's last events: open items done, then `response.completed` (or `response.incomplete`). */
  finish(tokensIn: number, tokensOut: number, now: number): string {
    if (this.failed) return this.take();
    const { status, reason } = statusOf(this.finishReason);
    if (this.call) this.closeCall();
    if (this.items.length === 0) this.openMessage();
    if (this.message) this.closeMessage(status);
    const response = this.response(status, reason, this.items, tokensIn, tokensOut, now);
    this.send(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
    return this.take();
  }

  /** A failure mid-stream: the events not yet written, then the failure's (see `failed`). */
  fail(message: string): string {
    this.failWith(message);
    return this.take();
  }

  /** OpenAI's `error` event (which the SDKs raise), then `response.failed`; nothing after them. */
  private failWith(message: string) {
    if (this.failed) return;
    this.failed = true;
    const error = { type: 'server_error', code: 'server_error', message, param: null };
    this.send('error', { code: 'server_error', message, param: null, error });
    const response = {
      ...this.response('failed', null, this.items, null, null, null),
      error: { code: 'server_error', message },
    };
    this.send('response.failed', { response });
  }

  private send(type: string, fields: Record<string, unknown>) {
    const data = JSON.stringify({ type, ...fields, sequence_number: this.sequence++ });
    this.pending.push(`event: ${type}\ndata: ${data}\n\n`);
  }

  private openMessage() {
    const item = { id: newId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    this.message = { item, index: this.items.length, text: '' };
    this.items.push(item);
    this.send('response.output_item.added', { output_index: this.message.index, item });
    this.send('response.content_part.added', {
      item_id: item.id,
      output_index: this.message.index,
      content_index: 0,
      part: textPart(''),
    });
  }

  private text(delta: string) {
    if (this.call) this.closeCall();
    if (!this.message) this.openMessage();
    const message = this.message!;
    message.text += delta;
    this.send('response.output_text.delta', {
      item_id: message.item.id,
      output_index: message.index,
      content_index: 0,
      delta,
      logprobs: [],
    });
  }

  private closeMessage(status: string) {
    const { item, index, text } = this.message!;
    this.message = null;
    const part = textPart(text);
    this.send('response.output_text.done', {
      item_id: item.id,
      output_index: index,
      content_index: 0,
      text,
      logprobs: [],
    });
    this.send('response.content_part.done', {
      item_id: item.id,
      output_index: index,
      content_index: 0,
      part,
    });
    const done = { ...item, status: status === 'completed' ? 'completed' : 'incomplete', content: [part] };
    this.items[index] = done;
    this.send('response.output_item.done', { output_index: index, item: done });
  }

  private toolCall(call: ChatToolCallDelta) {
    const chatIndex = call.index ?? 0;
    if (!this.call || this.call.chatIndex !== chatIndex) {
      if (this.message) this.closeMessage('completed');
      if (this.call) this.closeCall();
      const item = {
        id: newId('fc'),
        type: 'function_call',
        status: 'in_progress',
        call_id: typeof call.id === 'string' ? call.id : newId('call'),
        name: typeof call.function?.name === 'string' ? call.function.name : '',
        arguments: '',
      };
      this.call = { item, index: this.items.length, chatIndex, arguments: '' };
      this.items.push(item);
      this.send('response.output_item.added', { output_index: this.call.index, item });
    }
    const piece = call.function?.arguments;
    if (typeof piece !== 'string' || piece === '') return;
    this.call.arguments += piece;
    this.send('response.function_call_arguments.delta', {
      item_id: this.call.item.id,
      output_index: this.call.index,
      delta: piece,
    });
  }

  private closeCall() {
    const { item, index, arguments: args } = this.call!;
    this.call = null;
    this.send('response.function_call_arguments.done', {
      item_id: item.id,
      output_index: index,
      name: item.name,
      arguments: args,
    });
    const done = { ...item, status: 'completed', arguments: args };
    this.items[index] = done;
    this.send('response.output_item.done', { output_index: index, item: done });
  }

  private response(
    status: string,
    reason: string | null,
    output: Item[],
    tokensIn: number | null,
    tokensOut: number | null,
    now: number | null,
  ) {
    const { echo, usage } = this;
    const cached = usage?.prompt_tokens_details?.cached_tokens;
    const reasoning = usage?.completion_tokens_details?.reasoning_tokens;
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status,
      completed_at: status === 'completed' && now !== null ? Math.floor(now / 1000) : null,
      background: false,
      error: null,
      incomplete_details: reason === null ? null : { reason },
      instructions: echo.instructions,
      max_output_tokens: echo.maxOutputTokens,
      model: echo.model,
      output,
      parallel_tool_calls: echo.parallelToolCalls,
      previous_response_id: null,
      reasoning: null,
      // Nothing is kept, whatever the request asked: a retrieval by id answers 404.
      store: false,
      temperature: echo.temperature,
      text: { format: echo.format },
      tool_choice: echo.toolChoice,
      tools: echo.tools,
      top_p: echo.topP,
      truncation: 'disabled',
      // In progress (and failed), a Response has no usage yet.
      ...(tokensIn === null || tokensOut === null
        ? {}
        : {
            usage: {
              input_tokens: tokensIn,
              input_tokens_details: {
                cached_tokens: typeof cached === 'number' ? cached : 0,
                cache_write_tokens: 0,
              },
              output_tokens: tokensOut,
              output_tokens_details: { reasoning_tokens: typeof reasoning === 'number' ? reasoning : 0 },
              total_tokens: tokensIn + tokensOut,
            },
          }),
      ...(echo.user === undefined ? {} : { user: echo.user }),
      metadata: echo.metadata,
    };
  }
}
