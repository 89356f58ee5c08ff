import { WhoAmI } from '@aicloud/contracts';
import { type Actor, AppError, type Platform } from '@aicloud/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

/**
 * The portal's session: `POST /v1/session` with an API token sets an HttpOnly, SameSite=Strict cookie that
 * holds the token (Secure when served over https), so a signed-in browser stays signed in across tabs
 * while no script can read the token. Every request that rides on the cookie authenticates the token
 * again, so the token's own expiry and revocation end the session. The cookie is accepted only where a
 * CSRF defence holds: the portal's own header (`x-aicloud-portal: 1`, which no other site can send
 * without a CORS preflight this server never answers), `Sec-Fetch-Site: same-origin` when the browser
 * sends it, and an `Origin` naming this host when it is present.
 */
export const SESSION_COOKIE = 'aicloud_session';
export const PORTAL_HEADER = 'x-aicloud-portal';

/** A portal session lasts at most this long, and never beyond its token's expiry. */
const SESSION_MAX_SECONDS = 12 * 3600;

const SignInRequest = z.strictObject({ token: z.string().min(1).max(512) });

/** The session cookie's value in a Cookie header, or null. */
export function sessionTokenOf(cookieHeader: string | undefined): string | null {
  for (const part of (cookieHeader ?? '').split(';')) {
    const trimmed = part.trim();
    if (!trimmed.startsWith(`${SESSION_COOKIE}=`)) continue;
    const raw = trimmed.slice(SESSION_COOKIE.length + 1);
    try {
      return decodeURIComponent(raw) || null;
    } catch {
      return null;
    }
  }
  return null;
}

/** Refuses a request that may come from another site: the portal's header, the browser's fetch metadata, its Origin. */
export function assertFromPortal(request: FastifyRequest): void {
  const { headers } = request;
  if (headers[PORTAL_HEADER] !== '1') {
    throw new AppError(
      'forbidden',
      `the portal's session cookie is accepted only from the portal (header ${PORTAL_HEADER}: 1); ` +
        'scripts send "Authorization: Bearer <token>"',
    );
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    throw new AppError('forbidden', `a ${site} request may not use the portal's session cookie`);
  }
  const origin = headers.origin;
  if (origin !== undefined) {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch {
      host = null;
    }
    if (host === null || host === '' || host !== headers.host) {
      throw new AppError('forbidden', `a request from ${origin} may not use the portal's session cookie`);
    }
  }
}

/** The Set-Cookie value of the session: HttpOnly, SameSite=Strict, Path=/, and Secure when served over https. */
export function sessionCookie(protocol: string, value: string, maxAgeSeconds: number): string {
  const secure = protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${Math.max(0, maxAgeSeconds)}; HttpOnly; SameSite=Strict${secure}`;
}

function clearCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', sessionCookie(request.protocol, '', 0));
}

/**
 * The actor of a request that carries the session cookie (and no Authorization header): refused unless it
 * comes from the portal; a token that no longer authenticates (revoked, expired) also clears the cookie.
 */
export async function sessionActor(
  platform: Platform,
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
): Promise<Actor> {
  assertFromPortal(request);
  try {
    const principal = await platform.identity.authenticate(token);
    if (principal.scope) throw new AppError('forbidden', "a job's run token cannot sign in to the portal");
    return { principal, requestId: request.id };
  } catch (error) {
    clearCookie(request, reply);
    throw error;
  }
}

/** `POST /v1/session` (sign in with a token: sets the cookie, answers whoami) and `DELETE /v1/session` (sign out). */
export function portalSessionRoutes(platform: Platform) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post('/v1/session', { config: { auth: 'portal-session' } }, async (request, reply) => {
      assertFromPortal(request);
      const { token } = SignInRequest.parse(request.body ?? {});
      const principal = await platform.identity.authenticate(token);
      if (principal.scope) throw new AppError('forbidden', "a job's run token cannot sign in to the portal");
      const whoami = WhoAmI.parse(platform.identity.whoami({ principal, requestId: request.id }));
      const left = principal.tokenExpiresAt
        ? Math.floor((Date.parse(principal.tokenExpiresAt) - platform.clock.now()) / 1000)
        : SESSION_MAX_SECONDS;
      reply.header(
        'set-cookie',
        sessionCookie(request.protocol, encodeURIComponent(token), Math.min(SESSION_MAX_SECONDS, left)),
      );
      reply.header('cache-control', 'no-store');
      return whoami;
    });
    app.delete('/v1/session', { config: { auth: 'portal-session' } }, async (request, reply) => {
      assertFromPortal(request);
      clearCookie(request, reply);
      return { signedOut: true };
    });
  };
}
