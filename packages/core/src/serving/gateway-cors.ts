/**
 * CORS of the data plane, per endpoint: off unless the endpoint lists origins (`corsOrigins` at deploy,
 * `*` for any). A preflight carries no key, so it is answered for an origin some endpoint allows; the
 * answer itself carries CORS headers only when the key's own endpoint allows the origin.
 */
export function allowedOrigin(endpoint: { cors_origins?: string | null }, origin: string): boolean {
  if (!endpoint.cors_origins) return false;
  const origins = JSON.parse(endpoint.cors_origins) as string[];
  return origins.includes(origin) || origins.includes('*');
}

/** The headers of an answer a browser at `origin` may read (with what OpenAI's SDKs send and read). */
export function corsHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    vary: 'origin',
    'access-control-expose-headers': 'x-request-id, retry-after, x-should-retry, x-aicloud-cold-start-ms',
  };
}

/** The answer to a preflight from an allowed origin. */
export function preflightHeaders(origin: string, requestHeaders: string | undefined): Record<string, string> {
  return {
    ...corsHeaders(origin),
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': requestHeaders ?? 'authorization, content-type',
    'access-control-max-age': '600',
  };
}
