import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './test-app.ts';

let app: TestApp['app'];
let as: TestApp['as'];
let close: TestApp['close'];

beforeAll(async () => {
  ({ app, as, close } = await startTestApp());
});
afterAll(async () => close());

describe('authentication', () => {
  it('answers /healthz without a token', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
  });

  it('refuses every /v1 route without a valid token: missing, wrong, revoked, expired', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: as('alice'),
      payload: { name: 'soon-revoked' },
    });
    const revoked = created.json().token as string;
    await app.inject({ method: 'DELETE', url: `/v1/tokens/${created.json().id}`, headers: as('alice') });
    const expiredRow = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: as('alice'),
      payload: { name: 'expired', expiresIn: '1s' },
    });
    const expired = expiredRow.json().token as string;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const document = (
      await app.inject({ method: 'GET', url: '/v1/openapi.json', headers: as('alice') })
    ).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase(),
        url: path.replace(/\{[^}]+\}/g, 'x'),
      })),
    );
    routes.push({ method: 'GET', url: '/v1/openapi.json' });
    expect(routes.length).toBeGreaterThan(8);
    for (const route of routes) {
      for (const headers of [
        {},
        { authorization: 'Bearer aic_wrong' },
        { authorization: `Bearer ${revoked}` },
        { authorization: `Bearer ${expired}` },
      ]) {
        const response = await app.inject({ method: route.method as 'GET', url: route.url, headers });
        expect(response.statusCode, `${route.method} ${route.url}`).toBe(401);
        expect(response.json().error.code).toBe('unauthenticated');
      }
    }
  });
});

describe('identity routes', () => {
  it('says who the caller is', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/whoami', headers: as('bob') });
    expect(response.json()).toMatchObject({
      user: { name: 'bob' },
      memberships: [{ team: 'legal-rag', role: 'manager' }],
    });
    expect(response.headers['x-request-id']).toMatch(/^req_/);
  });

  it("answers 404 for another team's resources", async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/teams/legal-rag', headers: as('carol') });
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toMatchObject({ code: 'not_found', message: "team 'legal-rag' not found" });
  });

  it('refuses team management to non-admins with 403 and records the decision', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/teams',
      headers: as('bob'),
      payload: { name: 'bobs-team' },
    });
    expect(response.statusCode).toBe(403);
    const audit = await app.inject({
      method: 'GET',
      url: '/v1/audit?action=team.create',
      headers: as('admin'),
    });
    expect(audit.json().items[0]).toMatchObject({
      actor: 'bob',
      outcome: 'deny',
      requestId: response.headers['x-request-id'],
    });
  });

  it('creates a team and adds members as platform-admin', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/teams',
      headers: as('admin'),
      payload: { name: 'vision' },
    });
    expect(created.statusCode).toBe(201);
    const added = await app.inject({
      method: 'POST',
      url: '/v1/teams/vision/members',
      headers: as('admin'),
      payload: { user: 'erin' },
    });
    expect(added.json().members).toEqual([{ user: 'erin', role: 'member' }]);
  });
});

describe('bad input', () => {
  it('answers malformed JSON, unknown fields, wrong types and oversized bodies with the error body', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/v1/teams',
      headers: { ...as('admin'), 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('invalid_input');

    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/teams',
      headers: as('admin'),
      payload: { name: 'ok-name', colour: 'red' },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.issues).toEqual([{ path: ['colour'], message: 'unknown field' }]);

    const wrongType = await app.inject({
      method: 'POST',
      url: '/v1/teams',
      headers: as('admin'),
      payload: { name: 42 },
    });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.issues[0].path).toEqual(['name']);

    const huge = await app.inject({
      method: 'POST',
      url: '/v1/teams',
      headers: { ...as('admin'), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('payload_too_large');

    const badQuery = await app.inject({ method: 'GET', url: '/v1/audit?limit=abc', headers: as('admin') });
    expect(badQuery.statusCode).toBe(400);
    const teams = await app.inject({ method: 'GET', url: '/v1/teams', headers: as('admin') });
    expect(teams.json().items.map((team: { name: string }) => team.name)).not.toContain('x'.repeat(10));
  });

  it('answers a job for an unknown product with invalid_input on the product field, storing nothing', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: as('alice'),
      payload: { product: 'no-such-product', gpus: 1 },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'invalid_input', issues: [{ path: ['product'] }] });
    expect(response.json().error.message).toContain('fine-tune');
    const jobs = (await app.inject({ method: 'GET', url: '/v1/jobs', headers: as('alice') })).json().items;
    expect(jobs).toEqual([]);
  });

  it('answers unknown routes with not_found', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/nothing-here', headers: as('alice') });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('not_found');
  });
});

describe('audit routes', () => {
  it('lets only platform-admins verify the chain', async () => {
    expect(
      (await app.inject({ method: 'POST', url: '/v1/audit/verify', headers: as('alice') })).statusCode,
    ).toBe(403);
    const verified = await app.inject({ method: 'POST', url: '/v1/audit/verify', headers: as('admin') });
    expect(verified.json()).toMatchObject({ ok: true, firstBad: null });
  });

  it('shows members only their own records', async () => {
    const records = (await app.inject({ method: 'GET', url: '/v1/audit', headers: as('carol') })).json()
      .items as { actor: string }[];
    expect(records.every((record) => record.actor === 'carol')).toBe(true);
  });
});

describe('openapi', () => {
  it('describes every route with its schemas', async () => {
    const document = (
      await app.inject({ method: 'GET', url: '/v1/openapi.json', headers: as('alice') })
    ).json();
    expect(document.openapi).toBe('3.0.3');
    expect(
      document.paths['/v1/teams'].post.requestBody.content['application/json'].schema.properties.name,
    ).toBeDefined();
    expect(document.paths['/v1/teams/{team}'].get.parameters[0]).toMatchObject({ name: 'team', in: 'path' });
  });
});
