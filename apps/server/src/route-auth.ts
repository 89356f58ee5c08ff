import type { FastifyRequest } from 'fastify';
import { isApiPath } from './is-api-path.ts';
import { sessionTokenOf } from './portal-session.ts';

/**
 * How the route that will run authenticates its caller, set in its `config.auth`:
 * - `token` (the default of every route that says nothing): a platform API token, checked by the app's hook;
 * - `public`: nobody (`/healthz`, the portal's files and pages);
 * - `endpoint-key`: the OpenAI-compatible data plane authenticates endpoint keys itself;
 * - `endpoint-key-or-token`: `GET /v1/models`, a platform token (`aic_…`) or the portal's cookie for the registry,
 *   else an endpoint key;
 * - `notebook`: the notebook proxy authenticates login tickets, its cookie and tokens itself;
 * - `portal-session`: `POST`/`DELETE /v1/session` check the token they are given and set or clear the
 *   portal's session cookie themselves (`portal-session.ts`).
 * A `token` route also accepts the portal's session cookie, from the portal only (`sessionActor`).
 */
export type RouteAuth =
  | 'token'
  | 'public'
  | 'endpoint-key'
  | 'endpoint-key-or-token'
  | 'notebook'
  | 'portal-session';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

/** A user's API token (`aic_…`), as opposed to an endpoint key (`sk-aic-…`) of the OpenAI data plane. */
const USER_TOKEN = /^Bearer\s+aic_/i;

/**
 * Who authenticates this request, decided on the route the router matched (never on the URL's text):
 * a route's `config.auth`, else `token`. A request no route matched is public only where the not-found
 * handler serves the portal (a GET outside what decodes to `/v1` and `/metrics`): its 404 comes after auth.
 */
export function routeAuth(request: FastifyRequest): Exclude<RouteAuth, 'endpoint-key-or-token'> {
  const auth = request.is404
    ? request.method === 'GET' && !isApiPath(request.url)
      ? 'public'
      : 'token'
    : (request.routeOptions.config.auth ?? 'token');
  if (auth === 'endpoint-key-or-token') {
    // A user token, or (without an Authorization header) the portal's session cookie, lists the registry.
    const authorization = request.headers.authorization;
    const user = authorization
      ? USER_TOKEN.test(authorization)
      : sessionTokenOf(request.headers.cookie) !== null;
    return user ? 'token' : 'endpoint-key';
  }
  return auth;
}
