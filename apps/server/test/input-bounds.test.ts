import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { apiRoutes } from '../src/api-routes.ts';
import { startTestApp, type TestApp } from './test-app.ts';

// Input the contracts used to let through (or answer with a 500): each is a 400 invalid_input that names
// its field, and writes nothing.

let platform: TestApp['platform'];
let app: TestApp['app'];
let as: TestApp['as'];
let close: TestApp['close'];

beforeAll(async () => {
  ({ platform, app, as, close } = await startTestApp());
});
afterAll(async () => close());

async function call(user: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) {
  return app.inject({ method, url, headers: as(user), ...(payload ? { payload } : {}) });
}

/** Expects the one error body: invalid_input with an issue on `field`. */
function expectInvalid(response: Awaited<ReturnType<typeof call>>, field: (string | number)[]): void {
  expect(response.statusCode, response.body).toBe(400);
  const error = response.json().error;
  expect(error.code).toBe('invalid_input');
  expect(error.issues.map((issue: { path: unknown[] }) => issue.path)).toContainEqual(field);
}

async function auditCount(): Promise<number> {
  const row = await platform.store.db
    .selectFrom('audit_records')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

describe('durations have sane bounds everywhere', () => {
  it('refuses token lifetimes that overflow a date or have already ended', async () => {
    const before = (await call('alice', 'GET', '/v1/tokens')).json().items.length;
    const audited = await auditCount();
    for (const expiresIn of ['99999999d', '0s', '0d', '3651d', '1y', '-1s']) {
      expectInvalid(await call('alice', 'POST', '/v1/tokens', { name: 'bounded', expiresIn }), ['expiresIn']);
    }
    expect((await call('alice', 'GET', '/v1/tokens')).json().items.length).toBe(before);
    expect(await auditCount()).toBe(audited);
    const ok = await call('alice', 'POST', '/v1/tokens', { name: 'ten-years', expiresIn: '3650d' });
    expect(ok.statusCode).toBe(201);
  });

  it("refuses an endpoint key's empty or endless period", async () => {
    const before = (await call('alice', 'GET', '/v1/keys')).json().items.length;
    for (const period of ['0d', '0h', '99999999d']) {
      expectInvalid(await call('alice', 'POST', '/v1/keys', { endpoint: 'any-endpoint', period }), [
        'period',
      ]);
    }
    expect((await call('alice', 'GET', '/v1/keys')).json().items.length).toBe(before);
  });

  it('refuses zero and endless durations of jobs, notebooks, endpoints and budgets', async () => {
    expectInvalid(
      await call('alice', 'POST', '/v1/jobs', { product: 'batch-inference', maxRuntime: '0s', dryRun: true }),
      ['maxRuntime'],
    );
    expectInvalid(await call('alice', 'POST', '/v1/notebooks', { idleTimeout: '99999999d' }), [
      'idleTimeout',
    ]);
    expectInvalid(
      await call('alice', 'POST', '/v1/endpoints', { model: 'm', version: 1, idleTimeout: '0m' }),
      ['idleTimeout'],
    );
    for (const budgetDuration of ['0mo', '99999999mo', '99999999d', '1w']) {
      expectInvalid(await call('bob', 'PUT', '/v1/budgets/legal-rag', { maxBudget: 10, budgetDuration }), [
        'budgetDuration',
      ]);
    }
  });
});

describe('money is exact to the micro-dollar', () => {
  it('refuses amounts that would round to 0 or lose precision, and a soft budget above the budget', async () => {
    const budget = async () => (await call('bob', 'GET', '/v1/budgets/legal-rag')).json().budget;
    const before = await budget();
    const audited = await auditCount();
    expectInvalid(await call('bob', 'PUT', '/v1/budgets/legal-rag', { maxBudget: 0.0000001 }), ['maxBudget']);
    expectInvalid(await call('bob', 'PUT', '/v1/budgets/legal-rag', { maxBudget: 10.0000001 }), [
      'maxBudget',
    ]);
    expectInvalid(await call('bob', 'PUT', '/v1/budgets/legal-rag', { maxBudget: 10, softBudget: 1e-9 }), [
      'softBudget',
    ]);
    expectInvalid(await call('bob', 'PUT', '/v1/budgets/legal-rag', { maxBudget: 1e12 }), ['maxBudget']);
    expectInvalid(await call('bob', 'PUT', '/v1/budgets/legal-rag', { maxBudget: 10, softBudget: 20 }), [
      'softBudget',
    ]);
    expect(await budget()).toEqual(before);
    expect(await auditCount()).toBe(audited);
  });

  it('refuses lowering the budget under the soft budget it keeps, and takes exact amounts', async () => {
    const set = await call('bob', 'PUT', '/v1/budgets/legal-rag', {
      maxBudget: 100.25,
      softBudget: 50.000001,
    });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ maxBudget: 100.25, softBudget: 50.000001 });
    expectInvalid(await call('bob', 'PUT', '/v1/budgets/legal-rag', { maxBudget: 10 }), ['softBudget']);
    const after = (await call('bob', 'GET', '/v1/budgets/legal-rag')).json().budget;
    expect(after).toMatchObject({ maxBudget: 100.25, softBudget: 50.000001 });
  });
});

describe('the bill takes real months and no unknown fields', () => {
  it('refuses impossible periods', async () => {
    for (const period of ['0000-01', '0099-12', '1969-12', '2026-13', '2026-00']) {
      expectInvalid(await call('alice', 'GET', `/v1/bill?period=${period}`), ['period']);
      expectInvalid(await call('alice', 'GET', `/v1/bill/teams?period=${period}`), ['period']);
    }
    expect((await call('alice', 'GET', '/v1/bill?period=2026-11')).statusCode).toBe(200);
  });

  it('refuses unknown query fields like every other route', async () => {
    for (const url of [
      '/v1/bill?colour=red',
      '/v1/bill.csv?colour=red',
      '/v1/bill/teams?colour=red',
      '/v1/bill/rows?team=legal-rag&colour=red',
    ]) {
      expectInvalid(await call('alice', 'GET', url), ['colour']);
    }
  });
});

describe('every route is strict', () => {
  it('refuses unknown fields in every query and every object body of the route table', () => {
    const loose: string[] = [];
    for (const route of apiRoutes(platform)) {
      for (const [where, schema] of [
        ['query', route.query],
        ['body', route.body],
      ] as const) {
        if (!schema) continue;
        const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
          properties?: object;
          additionalProperties?: unknown;
        };
        if (json.properties && json.additionalProperties !== false)
          loose.push(`${route.method} ${route.url} ${where}`);
      }
    }
    expect(loose).toEqual([]);
  });
});
