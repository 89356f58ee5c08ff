import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Example, TinyLM } from '../tiny-lm/model.mjs';
import { chooseTool, createWordSource, generateValue, structuredText } from './structured-output.mjs';

const datasetDir = join(import.meta.dirname, '../../seed/datasets/legal-rag-v2');
let model: TinyLM;

beforeAll(() => {
  const train = readFileSync(join(datasetDir, 'train.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Example);
  model = TinyLM.create(train, { seed: 3 });
  model.train(train, { steps: 60 });
});

const ajv = new Ajv2020({ strict: false, allErrors: true });
const source = (seed = 1) => createWordSource(model, 'What is a force majeure clause?', { seed });

describe('schema-constrained output of the tiny model', () => {
  const schemas: Record<string, unknown> = {
    flat: {
      type: 'object',
      properties: {
        title: { type: 'string', minLength: 3, maxLength: 40 },
        risk: { type: 'integer', minimum: 1, maximum: 5 },
        score: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        binding: { type: 'boolean' },
        kind: { type: 'string', enum: ['contract', 'tort', 'statute'] },
        note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      },
      required: ['title', 'risk', 'score', 'binding', 'kind', 'note'],
      additionalProperties: false,
    },
    nested: {
      type: 'object',
      $defs: {
        party: {
          type: 'object',
          properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } },
          required: ['name', 'email'],
          additionalProperties: false,
        },
      },
      properties: {
        parties: { type: 'array', items: { $ref: '#/$defs/party' }, minItems: 2, maxItems: 4 },
        signed: { type: 'string', format: 'date' },
        clause: { const: 'force-majeure' },
      },
      required: ['parties', 'signed', 'clause'],
      additionalProperties: false,
    },
    recursive: {
      type: 'object',
      $defs: {
        node: {
          type: 'object',
          properties: {
            label: { type: 'string' },
            children: { type: 'array', items: { $ref: '#/$defs/node' } },
          },
          required: ['label', 'children'],
        },
      },
      properties: { root: { $ref: '#/$defs/node' } },
      required: ['root'],
    },
  };

  for (const [name, schema] of Object.entries(schemas)) {
    it(`emits valid JSON matching the ${name} schema, for several seeds`, () => {
      const validate = ajv.compile(schema as object);
      for (const seed of [1, 2, 3, 4, 5]) {
        const text = structuredText({ type: 'json_schema', json_schema: { name, schema } }, source(seed));
        const value = JSON.parse(text);
        expect(validate(value), `${text}\n${JSON.stringify(validate.errors)}`).toBe(true);
      }
    });
  }

  it('fills strings with the model’s own words, deterministically for a seed', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const first = generateValue(schema, source(7)) as { answer: string };
    expect(generateValue(schema, source(7))).toEqual(first);
    const vocabulary = new Set(model.tokenizer.vocab.map((word) => word.toLowerCase()));
    for (const word of first.answer.split(' ')) expect(vocabulary.has(word.toLowerCase()), word).toBe(true);
  });

  it('answers json_object with an object, and picks the named tool or the one the prompt is about', () => {
    expect(JSON.parse(structuredText({ type: 'json_object' }, source()))).toBeTypeOf('object');
    const tools = [
      { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city' } },
      {
        type: 'function' as const,
        function: { name: 'find_clause', description: 'Find a contract clause by name' },
      },
    ];
    expect(
      chooseTool(tools, 'required', 'Find the force majeure clause of this contract').function.name,
    ).toBe('find_clause');
    expect(
      chooseTool(tools, { type: 'function', function: { name: 'get_weather' } }, 'clause').function.name,
    ).toBe('get_weather');
  });
});
