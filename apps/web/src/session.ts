import { type Client, createClient } from '@aicloud/client';

const KEY = 'aicloud.token';

/** The signed-in token, kept in this browser's session storage only. */
export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeToken(token: string | null): void {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

/** A client for the server that serves the portal. */
export function clientFor(token: string): Client {
  return createClient({ url: window.location.origin, token });
}
