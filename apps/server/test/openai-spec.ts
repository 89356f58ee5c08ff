import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';

// Vendored with its licence and origin in fixtures/ (README.md there).
const specFile = join(import.meta.dirname, 'fixtures/openai-openapi.json');

/** OpenAPI 3.0's `nullable: true` as JSON Schema 2020-12 type unions, which ajv understands. */
function denullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(denullable);
  if (typeof node !== 'object' || node === null) return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const converted = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, denullable(value)]));
  if (nullable !== true) return converted;
  if (typeof converted.type !== 'string' && !converted.enum) return { anyOf: [converted, { type: 'null' }] };
  return {
    ...converted,
    ...(typeof converted.type === 'string' ? { type: [converted.type, 'null'] } : {}),
    ...(converted.enum ? { enum: [...(converted.enum as unknown[]), null] } : {}),
  };
}

/** A validator for one schema of OpenAI's OpenAPI description (`CreateChatCompletionResponse`, …). */
export function openAISchema(name: string): (value: unknown) => string[] {
  if (!existsSync(specFile))
    throw new Error(`OpenAI's OpenAPI description is missing at ${specFile} (see fixtures/README.md)`);
  const document = denullable(JSON.parse(readFileSync(specFile, 'utf8'))) as {
    components: { schemas: Record<string, unknown> };
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'openai', components: document.components });
  const validate = ajv.compile({ $ref: `openai#/components/schemas/${name}` });
  return (value) =>
    validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}
