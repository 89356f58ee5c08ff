import { describe, expect, it } from 'vitest';
import { checkContextLength, checkRequestFeatures, countTokens } from './gateway-request-check.ts';
import { PLAIN_CAPABILITIES } from './runtimes.ts';

const ALL = {
  ...PLAIN_CAPABILITIES,
  tools: true,
  jsonMode: true,
  jsonSchema: true,
  logprobs: true,
  embeddings: true,
};
const chat = (extra: Record<string, unknown>) => ({
  model: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});
const refusal = (run: () => void) => {
  try {
    run();
  } catch (error) {
    return error as { status: number; code: string | null; param: string | null };
  }
  return null;
};

describe('checkRequestFeatures', () => {
  it('passes what a runtime declares, and refuses it where the runtime lacks it', () => {
    const tools = { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] };
    const schema = { response_format: { type: 'json_schema', json_schema: { name: 's', schema: {} } } };
    for (const extra of [tools, schema, { response_format: { type: 'json_object' } }, { logprobs: true }]) {
      expect(refusal(() => checkRequestFeatures('chat', chat(extra), ALL, 'vllm'))).toBeNull();
      const error = refusal(() => checkRequestFeatures('chat', chat(extra), PLAIN_CAPABILITIES, 'site'));
      expect(error?.status).toBe(400);
      expect(error?.code).toMatch(/^unsupported_(parameter|value)$/);
    }
    expect(
      refusal(() => checkRequestFeatures('embeddings', { input: 'x' }, PLAIN_CAPABILITIES, 'site')),
    ).toMatchObject({ code: 'unsupported_value', param: 'model' });
  });

  it('holds OpenAI’s ranges and tool rules', () => {
    expect(refusal(() => checkRequestFeatures('chat', chat({ frequency_penalty: 2 }), ALL, 'r'))).toBeNull();
    expect(
      refusal(() => checkRequestFeatures('chat', chat({ frequency_penalty: 2.01 }), ALL, 'r')),
    ).toMatchObject({
      param: 'frequency_penalty',
    });
    expect(
      refusal(() => checkRequestFeatures('text_completion', { prompt: 'x', temperature: -1 }, ALL, 'r')),
    ).toMatchObject({ param: 'temperature' });
    const toolMessage = chat({ messages: [{ role: 'tool', content: 'x', tool_call_id: 'call_1' }] });
    expect(refusal(() => checkRequestFeatures('chat', toolMessage, ALL, 'r'))).toBeNull();
    expect(refusal(() => checkRequestFeatures('chat', toolMessage, PLAIN_CAPABILITIES, 'r'))).toMatchObject({
      code: 'unsupported_parameter',
    });
  });
});

describe('checkContextLength and countTokens', () => {
  it('counts a token per word or mark, at least one per four characters', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('What is arbitration?')).toBe(5);
    expect(countTokens('. . . .')).toBe(4);
    expect(countTokens('x'.repeat(40))).toBe(10);
  });

  it('refuses a prompt plus max_tokens over the context, and lets the rest through without counting', () => {
    expect(() => checkContextLength('chat', { max_tokens: 10 }, 'hello', 16)).not.toThrow();
    expect(refusal(() => checkContextLength('chat', { max_tokens: 12 }, 'a b c d e', 16))).toMatchObject({
      code: 'context_length_exceeded',
      param: 'messages',
    });
    expect(
      refusal(() =>
        checkContextLength('embeddings', { input: ['ok', '. . . . . . . . .'] }, 'ok\n. . . . . . . . .', 8),
      ),
    ).toMatchObject({
      param: 'input[1]',
    });
  });
});
