import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPlatform } from '@aicloud/core/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/build-app.ts';
import { SESSION_COOKIE, sessionCookie } from '../src/portal-session.ts';

let platform: Awaited<ReturnType<typeof createTestPlatform>>;
let app: FastifyInstance;
let aliceToken: string;

const HOST = 'portal.test:8787';
/** What the portal's own fetches carry: its header, same-origin fetch metadata, its Origin. */
const portal = {
  host: HOST,
  'x-aicloud-portal': '1',
  'sec-fetch-site': 'same-origin',
  origin: `http://${HOST}`,
};

beforeAll(async () => {
  platform = await createTestPlatform('sqlite', null);
  app = await buildApp(platform, { webRoot: null });
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
  aliceToken = credentials.alice.token;
});
afterAll(async () => {
  await app.close();
  await platform.dispose();
});

function setCookieOf(response: { headers: Record<string, unknown> }): string {
  const header = response.headers['set-cookie'];
  return Array.isArray(header) ? header.join('\n') : String(header ?? '');
}

/** Signs in with a token and answers the Cookie header the browser would send back. */
async function signIn(token: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/session',
    headers: portal,
    payload: { token },
  });
  expect(response.statusCode, response.body).toBe(200);
  const value = /aicloud_session=([^;]*)/.exec(setCookieOf(response))?.[1];
  expect(value).toBeTruthy();
  return `${SESSION_COOKIE}=${value}`;
}

describe("the portal's session cookie", () => {
  it('is set by POST /v1/session with the flags a session needs, and answers whoami', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: portal,
      payload: { token: aliceToken },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().user.name).toBe('alice');
    const cookie = setCookieOf(response);
    expect(cookie).toMatch(/^aicloud_session=aic_[^;]+; /);
    expect(cookie).toContain('; HttpOnly');
    expect(cookie).toContain('; SameSite=Strict');
    expect(cookie).toContain('; Path=/;');
    // Served over plain http: no Secure flag (the browser would drop the cookie); over https: Secure.
    expect(cookie).not.toContain('Secure');
    expect(sessionCookie('https', 'v', 60)).toBe(
      'aicloud_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure',
    );
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(12 * 3600);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('never outlives its token, and a wrong token sets nothing', async () => {
    const alice = { principal: await platform.identity.authenticate(aliceToken), requestId: null };
    const short = await platform.identity.createToken(alice, { name: 'short', expiresIn: '10m' });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: portal,
      payload: { token: short.token },
    });
    expect(Number(/Max-Age=(\d+)/.exec(setCookieOf(response))?.[1])).toBeLessThanOrEqual(600);

    const wrong = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: portal,
      payload: { token: 'aic_wrong' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('unauthenticated');
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('authenticates /v1 routes from the portal, including the registry at GET /v1/models', async () => {
    const cookie = await signIn(aliceToken);
    const whoami = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { ...portal, cookie } });
    expect(whoami.statusCode).toBe(200);
    expect(whoami.json().user.name).toBe('alice');
    const models = await app.inject({ method: 'GET', url: '/v1/models', headers: { ...portal, cookie } });
    expect(models.statusCode).toBe(200);
    expect(models.json()).toHaveProperty('items');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: { ...portal, cookie },
      payload: { name: 'from-portal' },
    });
    expect(created.statusCode).toBe(201);
  });

  it('refuses the cookie without the portal header, and refuses cross-site state-changing requests', async () => {
    const cookie = await signIn(aliceToken);
    const before = (
      await platform.identity.listTokens({
        principal: await platform.identity.authenticate(aliceToken),
        requestId: null,
      })
    ).length;
    const attempts: Record<string, string>[] = [
      // A plain cross-site form or link: the browser sends no custom header.
      { host: HOST, cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      // The portal's header with the browser saying the request comes from elsewhere, by either signal.
      { ...portal, cookie, 'sec-fetch-site': 'cross-site' },
      { ...portal, cookie, 'sec-fetch-site': 'same-site' },
      { ...portal, cookie, origin: 'https://evil.example' },
      { ...portal, cookie, origin: 'null' },
      { host: HOST, cookie },
    ];
    for (const headers of attempts) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers,
        payload: { name: 'csrf' },
      });
      expect(response.statusCode, JSON.stringify(headers)).toBe(403);
      expect(response.json().error.code).toBe('forbidden');
    }
    const after = await platform.identity.listTokens({
      principal: await platform.identity.authenticate(aliceToken),
      requestId: null,
    });
    expect(after.length).toBe(before);
    expect(after.some((token) => token.name === 'csrf')).toBe(false);

    // Signing in (or out) from another site is refused too, and sets no cookie.
    const crossSignIn = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { ...portal, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      payload: { token: aliceToken },
    });
    expect(crossSignIn.statusCode).toBe(403);
    expect(crossSignIn.headers['set-cookie']).toBeUndefined();
    const noHeader = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { host: HOST },
      payload: { token: aliceToken },
    });
    expect(noHeader.statusCode).toBe(403);
    const crossSignOut = await app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { host: HOST, cookie, 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSignOut.statusCode).toBe(403);
  });

  it('lets a Bearer token win over the cookie, as for every script', async () => {
    const cookie = await signIn(aliceToken);
    const response = await app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { cookie: `${cookie}x`, authorization: `Bearer ${aliceToken}` },
    });
    expect(response.statusCode).toBe(200);
  });

  it('ends when its token is revoked, and DELETE /v1/session clears it', async () => {
    const alice = { principal: await platform.identity.authenticate(aliceToken), requestId: null };
    const portalToken = await platform.identity.createToken(alice, { name: 'portal' });
    const cookie = await signIn(portalToken.token);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/whoami', headers: { ...portal, cookie } })).statusCode,
    ).toBe(200);
    await platform.identity.revokeToken(alice, portalToken.id);
    const revoked = await app.inject({ method: 'GET', url: '/v1/jobs', headers: { ...portal, cookie } });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().error.code).toBe('unauthenticated');
    expect(setCookieOf(revoked)).toContain('aicloud_session=; Path=/; Max-Age=0');

    const other = await signIn(aliceToken);
    const signOut = await app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { ...portal, cookie: other },
    });
    expect(signOut.statusCode).toBe(200);
    expect(signOut.json()).toEqual({ signedOut: true });
    expect(setCookieOf(signOut)).toMatch(/^aicloud_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
  });
});
