import { OpenAIError } from './openai-error.ts';
import type { Operation } from './openai-validation.ts';
import type { RuntimeCapabilities } from './runtimes.ts';

const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const RESPONSE_FORMATS = ['text', 'json_object', 'json_schema'];
/** OpenAI parameters no shipped runtime implements: refused rather than silently dropped. */
const UNSUPPORTED: Record<string, string> = {
  functions: "use 'tools' instead (the legacy 'functions' are not forwarded)",
  function_call: "use 'tool_choice' instead (the legacy 'function_call' is not forwarded)",
  audio: 'audio output is not served by aicloud runtimes',
  prediction: 'predicted outputs are not served by aicloud runtimes',
  web_search_options: 'web search is not served by aicloud runtimes',
  reasoning_effort: 'reasoning effort is not served by aicloud runtimes',
  service_tier: 'service tiers are not offered by aicloud endpoints',
};

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
/** Not given: undefined or null, as OpenAI reads an omitted parameter. */
export const absent = (value: unknown) => value === undefined || value === null;

function invalid(message: string, param: string | null, code: string | null = 'invalid_value') {
  return new OpenAIError(400, message, 'invalid_request_error', code, param);
}

function unsupported(param: string, message: string, code = 'unsupported_parameter') {
  return new OpenAIError(400, message, 'invalid_request_error', code, param);
}

function number(body: Record<string, unknown>, name: string, min: number, max: number, integer = false) {
  const value = body[name];
  if (absent(value)) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)))
    throw invalid(
      `Invalid type for '${name}': expected ${integer ? 'an integer' : 'a number'}.`,
      name,
      'invalid_type',
    );
  if (value < min || value > max) {
    const bound = value < min ? `Expected a value >= ${min}` : `Expected a value <= ${max}`;
    throw invalid(`Invalid '${name}': ${bound}, but got ${value} instead.`, name, 'decimal_out_of_range');
  }
}

/** Checks `tools`, `tool_choice` and the tool messages of a chat request against the runtime. */
function checkTools(request: Record<string, unknown>, capabilities: RuntimeCapabilities, runtime: string) {
  const { tools, tool_choice: choice } = request;
  if (!absent(tools)) {
    if (!Array.isArray(tools))
      throw invalid("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
    if (tools.length > 128)
      throw invalid("Invalid 'tools': at most 128 tools.", 'tools', 'array_above_max_length');
    tools.forEach((tool, index) => {
      const at = `tools[${index}]`;
      if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function))
        throw invalid(`Invalid '${at}': expected {"type": "function", "function": {...}}.`, at);
      const { name, parameters } = tool.function;
      if (typeof name !== 'string' || !FUNCTION_NAME.test(name))
        throw invalid(
          `Invalid '${at}.function.name': letters, digits, underscores and dashes, at most 64.`,
          `${at}.function.name`,
        );
      if (!absent(parameters) && !isObject(parameters))
        throw invalid(
          `Invalid type for '${at}.function.parameters': expected a JSON Schema object.`,
          `${at}.function.parameters`,
          'invalid_type',
        );
    });
    if (tools.length > 0 && !capabilities.tools)
      throw unsupported(
        'tools',
        `The ${runtime} runtime of this endpoint does not support tools (function calling).`,
      );
  }
  const names = Array.isArray(tools)
    ? tools.map((tool) => (tool as { function: { name: string } }).function.name)
    : [];
  if (!absent(choice)) {
    if (names.length === 0)
      throw invalid(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        'tool_choice',
      );
    if (typeof choice === 'string') {
      if (!['none', 'auto', 'required'].includes(choice))
        throw invalid(
          `Invalid value: '${choice}'. Supported values are: 'none', 'auto', and 'required'.`,
          'tool_choice',
        );
    } else if (
      !isObject(choice) ||
      choice.type !== 'function' ||
      !isObject(choice.function) ||
      typeof choice.function.name !== 'string'
    ) {
      throw invalid(
        'Invalid \'tool_choice\': expected \'none\', \'auto\', \'required\' or {"type": "function", "function": {"name": ...}}.',
        'tool_choice',
      );
    } else if (!names.includes(choice.function.name)) {
      throw invalid(
        `Invalid value for 'tool_choice': no function named '${choice.function.name}' was specified in the 'tools' parameter.`,
        'tool_choice',
      );
    }
  }
  if (!absent(request.parallel_tool_calls) && typeof request.parallel_tool_calls !== 'boolean')
    throw invalid(
      "Invalid type for 'parallel_tool_calls': expected a boolean.",
      'parallel_tool_calls',
      'invalid_type',
    );
  (request.messages as Record<string, unknown>[]).forEach((message, index) => {
    const at = `messages[${index}]`;
    if (message.role === 'tool') {
      if (typeof message.tool_call_id !== 'string' || message.tool_call_id.length === 0)
        throw invalid(
          `Missing required parameter: '${at}.tool_call_id'.`,
          `${at}.tool_call_id`,
          'missing_required_parameter',
        );
      if (!capabilities.tools)
        throw unsupported(at, `The ${runtime} runtime of this endpoint does not support tool messages.`);
    }
    if (message.role === 'assistant' && !absent(message.tool_calls)) {
      const calls = message.tool_calls;
      if (!Array.isArray(calls))
        throw invalid(
          `Invalid type for '${at}.tool_calls': expected an array.`,
          `${at}.tool_calls`,
          'invalid_type',
        );
      calls.forEach((call, position) => {
        const where = `${at}.tool_calls[${position}]`;
        if (
          !isObject(call) ||
          typeof call.id !== 'string' ||
          call.type !== 'function' ||
          !isObject(call.function) ||
          typeof call.function.name !== 'string' ||
          typeof call.function.arguments !== 'string'
        )
          throw invalid(
            `Invalid '${where}': expected {"id", "type": "function", "function": {"name", "arguments": string}}.`,
            where,
          );
      });
      if (calls.length > 0 && !capabilities.tools)
        throw unsupported(
          `${at}.tool_calls`,
          `The ${runtime} runtime of this endpoint does not support tool calls.`,
        );
    }
  });
}

function checkResponseFormat(
  request: Record<string, unknown>,
  capabilities: RuntimeCapabilities,
  runtime: string,
) {
  const format = request.response_format;
  if (absent(format)) return;
  if (!isObject(format) || typeof format.type !== 'string')
    throw invalid(
      "Invalid 'response_format': expected an object with a 'type'.",
      'response_format',
      'invalid_type',
    );
  if (!RESPONSE_FORMATS.includes(format.type))
    throw invalid(
      `Invalid value: '${format.type}'. Supported values are: 'json_object', 'json_schema', and 'text'.`,
      'response_format.type',
    );
  if (format.type === 'json_object' && !capabilities.jsonMode)
    throw unsupported(
      'response_format.type',
      `The ${runtime} runtime of this endpoint does not support JSON mode (response_format json_object).`,
      'unsupported_value',
    );
  if (format.type === 'json_schema') {
    const spec = format.json_schema;
    if (!isObject(spec))
      throw invalid(
        "Missing required parameter: 'response_format.json_schema'.",
        'response_format.json_schema',
        'missing_required_parameter',
      );
    if (typeof spec.name !== 'string' || !FUNCTION_NAME.test(spec.name))
      throw invalid(
        "Invalid 'response_format.json_schema.name': letters, digits, underscores and dashes, at most 64.",
        'response_format.json_schema.name',
      );
    if (!absent(spec.schema) && !isObject(spec.schema))
      throw invalid(
        "Invalid type for 'response_format.json_schema.schema': expected a JSON Schema object.",
        'response_format.json_schema.schema',
        'invalid_type',
      );
    if (!capabilities.jsonSchema)
      throw unsupported(
        'response_format.type',
        `The ${runtime} runtime of this endpoint does not support structured output (response_format json_schema).`,
        'unsupported_value',
      );
  }
}

/** `stream_options`, as OpenAI checks it on chat and on responses: an object, and only with `stream: true`. */
export function checkStreamOptions(request: Record<string, unknown>): void {
  if (absent(request.stream_options)) return;
  if (!isObject(request.stream_options))
    throw invalid("Invalid type for 'stream_options': expected an object.", 'stream_options', 'invalid_type');
  if (request.stream !== true)
    throw invalid(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
    );
}

/**
 * Checks what OpenAI checks beyond a request's shape (ranges, tool messages) and what the endpoint's
 * runtime can do: a feature it lacks is a 400 `unsupported_parameter`/`unsupported_value`, never ignored.
 */
export function checkRequestFeatures(
  operation: Operation,
  body: unknown,
  capabilities: RuntimeCapabilities,
  runtime: string,
): void {
  const request = body as Record<string, unknown>;
  if (operation === 'embeddings') {
    if (!capabilities.embeddings)
      throw unsupported(
        'model',
        `The ${runtime} runtime of this endpoint does not serve embeddings.`,
        'unsupported_value',
      );
    number(request, 'dimensions', 1, 65_536, true);
    return;
  }
  for (const name in UNSUPPORTED)
    if (!absent(request[name]))
      throw unsupported(name, `Unsupported parameter: '${name}': ${UNSUPPORTED[name]}.`);
  if (Array.isArray(request.modalities) && request.modalities.some((modality) => modality !== 'text'))
    throw unsupported(
      'modalities',
      "Unsupported value: 'modalities' other than 'text'.",
      'unsupported_value',
    );
  number(request, 'temperature', 0, 2);
  number(request, 'top_p', 0, 1);
  number(request, 'frequency_penalty', -2, 2);
  number(request, 'presence_penalty', -2, 2);
  number(request, 'n', 1, 128, true);
  number(request, 'max_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  number(request, 'max_completion_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  number(request, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  const stop = request.stop;
  if (
    !absent(stop) &&
    typeof stop !== 'string' &&
    !(Array.isArray(stop) && stop.length <= 4 && stop.every((item) => typeof item === 'string'))
  )
    throw invalid("Invalid 'stop': expected a string or an array of at most 4 strings.", 'stop');
  if (!absent(request.logit_bias)) {
    if (!isObject(request.logit_bias))
      throw invalid("Invalid type for 'logit_bias': expected an object.", 'logit_bias', 'invalid_type');
    for (const [token, bias] of Object.entries(request.logit_bias))
      if (typeof bias !== 'number' || bias < -100 || bias > 100)
        throw invalid(`Invalid 'logit_bias.${token}': expected a number in [-100, 100].`, 'logit_bias');
  }
  checkStreamOptions(request);
  if (operation === 'chat') {
    if (!absent(request.logprobs) && typeof request.logprobs !== 'boolean')
      throw invalid("Invalid type for 'logprobs': expected a boolean.", 'logprobs', 'invalid_type');
    number(request, 'top_logprobs', 0, 20, true);
    if (!absent(request.top_logprobs) && request.logprobs !== true)
      throw invalid("'logprobs' must be set to true when 'top_logprobs' is used.", 'top_logprobs');
    if (request.logprobs === true && !capabilities.logprobs)
      throw unsupported(
        'logprobs',
        `The ${runtime} runtime of this endpoint does not return log probabilities.`,
      );
    checkTools(request, capabilities, runtime);
    checkResponseFormat(request, capabilities, runtime);
    return;
  }
  number(request, 'logprobs', 0, 5, true);
  number(request, 'best_of', 1, 20, true);
  if (typeof request.logprobs === 'number' && request.logprobs > 0 && !capabilities.logprobs)
    throw unsupported(
      'logprobs',
      `The ${runtime} runtime of this endpoint does not return log probabilities.`,
    );
  for (const name of ['tools', 'tool_choice', 'response_format'])
    if (!absent(request[name]))
      throw unsupported(name, `Unsupported parameter: '${name}' is not supported with /v1/completions.`);
}

const PIECES = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;

/**
 * Tokens the gateway counts for a text when a runtime reports none: at least one per word or punctuation
 * mark and one per four characters. Used alike for metering and for the context-length check.
 */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  const byLength = Math.ceil(text.length / 4);
  let pieces = 0;
  PIECES.lastIndex = 0;
  while (PIECES.exec(text) !== null) pieces += 1;
  return Math.max(1, byLength, pieces);
}

/**
 * Refuses (400 `context_length_exceeded`) a request whose prompt plus requested output cannot fit the
 * runtime's context, before a replica is woken. Embeddings count each input alone.
 */
export function checkContextLength(
  operation: Operation,
  body: unknown,
  promptText: string,
  contextLength: number,
) {
  const request = body as Record<string, unknown>;
  // Fast path: no text longer than the context can count more tokens than it has characters.
  const cap = request.max_completion_tokens ?? request.max_tokens;
  const output = operation !== 'embeddings' && typeof cap === 'number' && Number.isInteger(cap) ? cap : 0;
  if (promptText.length + output <= contextLength) return;
  if (operation === 'embeddings') {
    const inputs = typeof request.input === 'string' ? [request.input] : (request.input as string[]);
    inputs.forEach((input, index) => {
      const tokens = countTokens(input);
      if (tokens > contextLength)
        throw invalid(
          `This model's maximum context length is ${contextLength} tokens, however you requested ${tokens} tokens (${tokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`,
          inputs.length > 1 ? `input[${index}]` : 'input',
          'context_length_exceeded',
        );
    });
    return;
  }
  const prompt = countTokens(promptText);
  if (prompt + output > contextLength)
    throw invalid(
      `This model's maximum context length is ${contextLength} tokens. However, you requested ${prompt + output} tokens (${prompt} in the messages, ${output} in the completion). Please reduce the length of the messages or completion.`,
      operation === 'chat' ? 'messages' : 'prompt',
      'context_length_exceeded',
    );
}
