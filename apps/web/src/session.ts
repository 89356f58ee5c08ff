import { ApiError, type Client, createClient } from '@aicloud/client';
import { ErrorBody, type WhoAmI } from '@aicloud/contracts';

/**
 * The portal's session lives in an HttpOnly cookie the server sets (`POST /v1/session`): no script here
 * ever holds the token after signing in, and every tab of this browser shares the session. Requests ride on
 * the cookie with the portal's own header, which the server requires before it accepts the cookie (a
 * CSRF defence, with SameSite=Strict and its Origin / Sec-Fetch-Site checks).
 */
const PORTAL_HEADERS = { 'x-aicloud-portal': '1' } as const;

/** Sessions of earlier portal versions kept the token in session storage: never leave it there. */
const LEGACY_KEY = 'aicloud.token';

/** The wrong-token message, in the portal's words. */
export const WRONG_TOKEN =
  'That token was not accepted: it may be mistyped, revoked or expired. Get a new one with `aicloud tokens create`.';

/** fetch for the API client: the session cookie and the portal's header instead of an Authorization header. */
function portalFetch(signal?: AbortSignal): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.delete('authorization');
    for (const [name, value] of Object.entries(PORTAL_HEADERS)) headers.set(name, value);
    return fetch(input, { ...init, headers, credentials: 'same-origin', ...(signal ? { signal } : {}) });
  };
}

/** A client for the server that serves the portal, authenticated by the session cookie; `signal` aborts its requests. */
export function portalClient(signal?: AbortSignal): Client {
  return createClient({ url: window.location.origin, token: '', fetch: portalFetch(signal) });
}

async function sessionRequest(method: 'POST' | 'DELETE', body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch('/v1/session', {
      method,
      credentials: 'same-origin',
      headers: { ...PORTAL_HEADERS, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError('unavailable', `cannot reach aicloud: ${(error as Error).message}`, 0);
  }
  const payload: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const parsed = ErrorBody.safeParse(payload);
    if (parsed.success)
      throw new ApiError(
        parsed.data.error.code,
        parsed.data.error.message,
        response.status,
        parsed.data.error,
      );
    throw new ApiError('internal', `HTTP ${response.status} from /v1/session`, response.status);
  }
  return payload;
}

/** Signs in: the server checks the token, keeps it in the session cookie and answers who you are. */
export async function signIn(token: string): Promise<WhoAmI> {
  sessionStorage.removeItem(LEGACY_KEY);
  return (await sessionRequest('POST', { token })) as WhoAmI;
}

/** Signs out: the server clears the session cookie (the token itself stays valid for the CLI). */
export async function signOut(): Promise<void> {
  sessionStorage.removeItem(LEGACY_KEY);
  await sessionRequest('DELETE');
}

/** Whether an error means the session is gone (no cookie, or its token revoked or expired). */
export function isSignedOut(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'unauthenticated';
}

/** An error in the portal's words where it has some (a wrong or ended token), else its own message. */
export function portalMessage(error: unknown): string {
  if (isSignedOut(error)) return WRONG_TOKEN;
  return error instanceof Error ? error.message : String(error);
}
