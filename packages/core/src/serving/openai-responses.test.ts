import { describe, expect, it } from 'vitest';
import { OpenAIError } from './openai-error.ts';
import { ResponsesTranslation } from './openai-responses.ts';

const NOW = Date.parse('2026-12-04T12:00:00Z');

/** The SSE events of a translated stream, parsed. */
function events(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [event, data] = block.split('\n');
      return { event: event!.slice('event: '.length), data: JSON.parse(data!.slice('data: '.length)) };
    });
}

const refusal = (body: unknown) => {
  try {
    new ResponsesTranslation(body, NOW);
  } catch (error) {
    if (error instanceof OpenAIError) return { status: error.status, param: error.param, code: error.code };
    throw error;
  }
  throw new Error('not refused');
};

describe('a Responses API request as a chat completion request', () => {
  it('translates instructions, input items and tool round trips to chat messages', () => {
    const { chat } = new ResponsesTranslation(
      {
        model: 'm',
        instructions: 'Be brief.',
        input: [
          { role: 'user', content: 'Find clause 12' },
          {
            type: 'message',
            id: 'msg_1',
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'Looking.', annotations: [] }],
          },
          { type: 'function_call', id: 'fc_1', call_id: 'call_a', name: 'find', arguments: '{"n":12}' },
          { type: 'function_call', call_id: 'call_b', name: 'find', arguments: '{"n":13}' },
          { type: 'function_call_output', call_id: 'call_a', output: 'twelve' },
          {
            type: 'function_call_output',
            call_id: 'call_b',
            output: [{ type: 'input_text', text: 'thirteen' }],
          },
          { role: 'developer', content: [{ type: 'input_text', text: 'Answer now.' }] },
        ],
        max_output_tokens: 64,
        temperature: 0.5,
        tools: [{ type: 'function', name: 'find', parameters: { type: 'object' }, strict: true }],
        tool_choice: { type: 'function', name: 'find' },
        parallel_tool_calls: false,
        text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
        stream: true,
        store: true,
        include: [],
        truncation: 'disabled',
        background: false,
        metadata: { a: 'b' },
        user: 'u-1',
      },
      NOW,
    );
    expect(chat).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Find clause 12' },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'Looking.' }],
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'find', arguments: '{"n":12}' } },
            { id: 'call_b', type: 'function', function: { name: 'find', arguments: '{"n":13}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: 'twelve' },
        { role: 'tool', tool_call_id: 'call_b', content: 'thirteen' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer now.' }] },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
      temperature: 0.5,
      tools: [{ type: 'function', function: { name: 'find', parameters: { type: 'object' }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'find' } },
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'out', schema: { type: 'object' }, strict: true },
      },
      user: 'u-1',
    });
  });

  it('refuses what it does not serve, naming the parameter; null is a default, not a value', () => {
    expect(refusal({ model: 'm', input: 'hi', previous_response_id: 'resp_1' })).toEqual({
      status: 400,
      param: 'previous_response_id',
      code: 'unsupported_parameter',
    });
    // An inherited name is no parameter of the API.
    expect(refusal({ model: 'm', input: 'hi', toString: 1 })).toMatchObject({ code: 'unknown_parameter' });
    expect(refusal({ model: 'm', input: [{ id: 'msg_1' }] })).toMatchObject({
      param: 'input[0].type',
      code: 'unsupported_value',
    });
    expect(refusal({ model: 'm', input: 'hi', stream_options: { include_obfuscation: true } })).toMatchObject(
      {
        param: 'stream_options',
      },
    );
    expect(
      refusal({ model: 'm', input: 'hi', stream: true, stream_options: { include_obfuscation: true } }),
    ).toMatchObject({ param: 'stream_options.include_obfuscation', code: 'unsupported_value' });
    expect(
      refusal({ model: 'm', input: [{ role: 'user', content: [{ type: 'output_text', text: 'x' }] }] }),
    ).toMatchObject({ param: 'input[0].content[0].type', code: 'invalid_value' });
    expect(refusal({ model: 'm', input: 'hi', metadata: { a: 1 } })).toMatchObject({ param: 'metadata.a' });
    const nulls = new ResponsesTranslation(
      {
        model: 'm',
        input: 'hi',
        previous_response_id: null,
        reasoning: null,
        store: null,
        temperature: null,
      },
      NOW,
    );
    expect(nulls.chat).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('names the chat path’s parameters as the Responses request sent them', () => {
    const translation = new ResponsesTranslation(
      {
        model: 'm',
        instructions: 'x',
        input: [
          { role: 'user', content: 'a' },
          { type: 'function_call_output', call_id: 'c', output: 'r' },
        ],
      },
      NOW,
    );
    const param = (chatParam: string) =>
      (translation.rename(new OpenAIError(400, 'm', 'invalid_request_error', 'x', chatParam)) as OpenAIError)
        .param;
    expect(param('messages[2].tool_call_id')).toBe('input[1]');
    expect(param('messages.0.role')).toBe('instructions');
    expect(param('messages')).toBe('input');
    expect(param('max_tokens')).toBe('max_output_tokens');
    expect(param('response_format.type')).toBe('text.format.type');
    expect(param('response_format.json_schema.name')).toBe('text.format.name');
    expect(param('tools[3].function.name')).toBe('tools[3].name');
    expect(param('temperature')).toBe('temperature');
    const unnamed = new OpenAIError(429, 'm', 'insufficient_quota', 'insufficient_quota', null, null, false);
    expect(translation.rename(unnamed)).toBe(unnamed);
  });
});

describe('a chat completion answer as a Response', () => {
  it('makes a message and function_call items; a cut answer is incomplete', () => {
    const translation = new ResponsesTranslation({ model: 'm', input: 'hi', max_output_tokens: 16 }, NOW);
    const response = JSON.parse(
      translation.complete(
        {
          choices: [
            {
              message: {
                content: 'Calling.',
                tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
              },
              finish_reason: 'length',
            },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 16, prompt_tokens_details: { cached_tokens: 2 } },
        },
        3,
        16,
        NOW + 2000,
      ),
    );
    expect(response).toMatchObject({
      object: 'response',
      created_at: NOW / 1000,
      completed_at: null,
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      max_output_tokens: 16,
      usage: {
        input_tokens: 3,
        input_tokens_details: { cached_tokens: 2 },
        output_tokens: 16,
        total_tokens: 19,
      },
    });
    expect(response.output).toMatchObject([
      {
        type: 'message',
        status: 'incomplete',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Calling.' }],
      },
      { type: 'function_call', status: 'completed', call_id: 'call_1', name: 'f', arguments: '{}' },
    ]);
  });

  it('streams text, then parallel tool calls, as Responses events with sequence numbers', () => {
    const translation = new ResponsesTranslation({ model: 'm', input: 'hi', stream: true }, NOW);
    let out = translation.open();
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => {
      translation.chunk({ choices: [{ delta, finish_reason: finish }] });
      out += translation.take();
    };
    chunk({ role: 'assistant', content: '' });
    chunk({ content: 'Let me ' });
    chunk({ content: 'look.' });
    chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: '' } }] });
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] });
    chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] });
    chunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'g', arguments: '{}' } }] });
    chunk({}, 'tool_calls');
    translation.chunk({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 9 } });
    out += translation.finish(2, 9, NOW);
    const parsed = events(out);
    expect(parsed.map(({ data }) => data.sequence_number)).toEqual(parsed.map((_, index) => index));
    expect(parsed.every(({ event, data }) => event === data.type)).toBe(true);
    expect(parsed.map(({ event }) => event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const final = parsed.at(-1)!.data.response as Record<string, unknown>;
    expect(final.status).toBe('completed');
    expect(final.output).toMatchObject([
      { type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Let me look.' }] },
      { type: 'function_call', call_id: 'call_a', name: 'f', arguments: '{"a":1}', status: 'completed' },
      { type: 'function_call', call_id: 'call_b', name: 'g', arguments: '{}', status: 'completed' },
    ]);
    expect(final.usage).toMatchObject({ input_tokens: 2, output_tokens: 9, total_tokens: 11 });
    expect(parsed[2]!.data.output_index).toBe(0);
    expect(parsed[9]!.data.output_index).toBe(1);
    expect(parsed[14]!.data.output_index).toBe(2);
  });

  it('ends an empty or cut stream properly, and a failed one with error and response.failed only', () => {
    const empty = new ResponsesTranslation({ model: 'm', input: 'hi', stream: true }, NOW);
    empty.open();
    empty.chunk({ choices: [{ delta: { role: 'assistant', content: '' }, finish_reason: 'length' }] });
    const ending = events(empty.take() + empty.finish(1, 0, NOW));
    expect(ending.map(({ event }) => event)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(ending.at(-1)!.data.response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
    });

    const failing = new ResponsesTranslation({ model: 'm', input: 'hi', stream: true }, NOW);
    failing.open();
    failing.chunk({ choices: [{ delta: { content: 'Par' } }] });
    failing.chunk({ error: { message: 'generation failed: out of memory' } });
    const failed = events(failing.take() + failing.finish(1, 1, NOW));
    expect(failed.map(({ event }) => event)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'error',
      'response.failed',
    ]);
    // The openai SDKs raise an event with an `error` member; the AI SDK reads the flat fields.
    expect(failed[3]!.data).toMatchObject({
      message: 'generation failed: out of memory',
      error: { message: 'generation failed: out of memory' },
    });
    expect(failed[4]!.data.response).toMatchObject({ status: 'failed', error: { code: 'server_error' } });
  });
});
