import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform } from '@aicloud/core/testing';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { apiRoutes } from '../src/api-routes.ts';
import { buildApp } from '../src/build-app.ts';
import { repoRoot } from '../src/repo-paths.ts';
import type { AnyRoute } from '../src/route.ts';

// Property-based: requests generated from each route's own zod schemas (valid-looking values, edge values,
// wrong types, unknown fields, arbitrary JSON) must never answer 5xx.

let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let app: FastifyInstance;
let tokens: Record<string, string>;
let catalogDir: string;

beforeAll(async () => {
  // No product here starts a notebook or a model server, and every job is a dry run: a generated
  // request that is valid starts no process.
  catalogDir = mkdtempSync(join(tmpdir(), 'aicloud-fuzz-catalog-'));
  for (const file of ['fine-tune.yaml', 'training.yaml', 'batch-inference.yaml'])
    cpSync(join(repoRoot, 'catalog', file), join(catalogDir, file));
  platform = await createTestPlatform('sqlite', null, { catalogDir });
  app = await buildApp(platform, { webRoot: null });
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
  tokens = { alice: credentials.alice.token, bob: credentials.bob.token };
});
afterAll(async () => {
  await app.close();
  await platform.dispose();
  rmSync(catalogDir, { recursive: true, force: true });
});

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  examples?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

const EDGE_STRINGS = [
  '',
  ' ',
  '0',
  '-1',
  '0s',
  '1s',
  '0d',
  '99999999d',
  '99999999999999999999s',
  '1mo',
  '0mo',
  '99999999mo',
  '0000-01',
  '9999-12',
  '2026-02',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '+275760-09-13T00:00:00Z',
  'legal-rag',
  'search',
  'alice',
  'batch-inference',
  'fine-tune',
  'job:x',
  'path:/',
  'path:/etc',
  'hf://org/name@main',
  '../../etc/passwd',
  '%00',
  'x'.repeat(300),
  '🙂',
  '__proto__',
  'constructor',
];
const EDGE_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  0.5,
  1e-7,
  0.0000001,
  1.0000001,
  12.345678,
  1e9,
  1e12,
  1e21,
  1e308,
  -1e308,
  2 ** 31,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_VALUE,
];

const anyJson = fc.jsonValue({ maxDepth: 2 });
/** Names the seed knows (teams, users, products), so generated requests also reach past the 404s. */
const knownName = fc.constantFrom('legal-rag', 'search', 'alice', 'bob', 'batch-inference', 'fine-tune');

/**
 * Values for a JSON schema: mostly well-formed ones (so that requests get past validation into the
 * services), else edge values of its type, else any JSON at all.
 */
function valueFor(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 12, arbitrary: likelyFor(schema, depth) },
    { weight: 1, arbitrary: edgeFor(schema) },
    { weight: 1, arbitrary: anyJson },
  );
}

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type[0] : schema.type;
}

function likelyFor(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  const alternatives = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  if (alternatives && alternatives.length > 0)
    return fc.oneof(...alternatives.map((each) => likelyFor(each, depth)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.examples && schema.examples.length > 0) return fc.constantFrom(...schema.examples);
  const low = schema.minimum ?? (schema.exclusiveMinimum ?? -1) + 1;
  const high = Math.min(schema.maximum ?? (schema.exclusiveMaximum ?? 1e9) - 1, low + 100);
  switch (typeOf(schema)) {
    case 'string':
      return schema.pattern ? fc.stringMatching(new RegExp(schema.pattern)) : knownName;
    case 'integer':
      return fc.integer({ min: Math.ceil(low), max: Math.floor(high) });
    case 'number':
      return fc
        .integer({ min: Math.ceil(low * 100), max: Math.floor(high * 100) })
        .map((cents) => cents / 100);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return depth > 3
        ? fc.constant([])
        : fc.array(valueFor(schema.items ?? {}, depth + 1), { maxLength: 3 });
    case 'object':
      return objectOf(schema, depth);
    default:
      return anyJson;
  }
}

function edgeFor(schema: JsonSchema): fc.Arbitrary<unknown> {
  const type = typeOf(schema);
  if (type === 'integer' || type === 'number') {
    const bounds = [schema.minimum, schema.maximum, schema.exclusiveMinimum, schema.exclusiveMaximum]
      .filter((bound): bound is number => typeof bound === 'number')
      .flatMap((bound) => [bound - 1, bound, bound + 1, bound + 0.5]);
    return fc.oneof(
      fc.constantFrom(...EDGE_NUMBERS, ...bounds),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
  }
  return fc.oneof(fc.constantFrom(...EDGE_STRINGS), fc.string({ maxLength: 24 }));
}

/** Objects with the schema's required fields (mostly) and any of the others, seldom an unknown one. */
function objectOf(schema: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  if (depth > 3) return fc.constant({});
  const fields = Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([name, property]) => [name, valueFor(property, depth + 1)]),
  );
  const known = fc.oneof(
    { weight: 6, arbitrary: fc.record(fields, { requiredKeys: schema.required ?? [] }) },
    { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
  );
  const extra =
    schema.additionalProperties && typeof schema.additionalProperties === 'object'
      ? fc.dictionary(fc.string({ maxLength: 12 }), valueFor(schema.additionalProperties, depth + 1), {
          maxKeys: 3,
        })
      : fc.oneof(
          { weight: 12, arbitrary: fc.constant({}) },
          { weight: 1, arbitrary: fc.record({ colour: anyJson }) },
        );
  return fc.tuple(known, extra).map(([fields, more]) => ({ ...more, ...fields }));
}

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

const paramValue = fc.oneof(
  { weight: 6, arbitrary: knownName },
  { weight: 2, arbitrary: fc.constantFrom('x', '1', 'champion', 'nb_x') },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(200), '..', '%', '\u0000') },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 16 }) },
);

interface Generated {
  user: string;
  url: string;
  payload: unknown;
}

/** Requests for one route: its path parameters, query and body generated from its schemas. */
function requestsFor(route: AnyRoute): fc.Arbitrary<Generated> {
  const names = [...route.url.matchAll(/:([A-Za-z]+)|\*/g)].map((match) => match[1] ?? '*');
  const params = fc.tuple(...names.map(() => paramValue));
  const querySchema = route.query ? jsonSchemaOf(route.query) : null;
  const query = querySchema ? objectOf(querySchema, 0) : fc.constant({});
  const body = route.body
    ? fc.oneof(
        { weight: 12, arbitrary: objectOf(jsonSchemaOf(route.body), 0) },
        { weight: 1, arbitrary: anyJson },
      )
    : fc.constant(undefined);
  return fc
    .record({ user: fc.constantFrom('alice', 'bob'), params, query, body })
    .map(({ user, params, query, body }) => {
      let index = 0;
      const path = route.url.replace(/:([A-Za-z]+)|\*/g, () => encodeURIComponent(String(params[index++])));
      const search = new URLSearchParams(
        Object.entries(query).map(([name, value]) => [
          name,
          typeof value === 'string' ? value : JSON.stringify(value),
        ]),
      ).toString();
      let payload = body;
      // Jobs are only ever dry runs here (a valid job would otherwise run its command).
      if (route.method === 'POST' && route.url === '/v1/jobs' && payload && typeof payload === 'object')
        payload = { ...payload, dryRun: true };
      return { user, url: search ? `${path}?${search}` : path, payload };
    });
}

describe('no generated request makes a route answer 5xx', () => {
  // FUZZ_RUNS (per route, default 30) and FUZZ_SEED explore further or replay a failure.
  it('holds for every route of the route table, as seeded members', { timeout: 600_000 }, async () => {
    const routes = apiRoutes(platform);
    expect(routes.length).toBeGreaterThan(40);
    const started = Date.now();
    const answered = new Map<string, Set<number>>();
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(requestsFor(route), async ({ user, url, payload }) => {
          const json = payload === undefined ? {} : { 'content-type': 'application/json' };
          const response = await app.inject({
            method: route.method,
            url,
            headers: { authorization: `Bearer ${tokens[user]}`, ...json },
            ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
          });
          const key = `${route.method} ${route.url}`;
          answered.set(key, (answered.get(key) ?? new Set()).add(response.statusCode));
          expect(
            response.statusCode,
            `${route.method} ${url} ${JSON.stringify(payload)} -> ${response.body.slice(0, 300)}`,
          ).toBeLessThan(500);
        }),
        {
          numRuns: Number(process.env.FUZZ_RUNS ?? 30),
          ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
        },
      );
    }
    // The generated requests also get past validation: many routes answered a success too.
    const succeeded = [...answered.values()].filter((codes) => [...codes].some((code) => code < 300));
    expect(succeeded.length).toBeGreaterThan(20);
    if (!process.env.FUZZ_RUNS) expect(Date.now() - started).toBeLessThan(20_000);
  });
});
