import type { ServerResponse } from 'node:http';

/** An error the data plane answers in OpenAI's shape (core's OpenAIError, or one built by a route). */
export interface OpenAIFailure {
  status: number;
  retryAfter: number | null;
  shouldRetry?: boolean | null;
  body(): unknown;
}

/** An endpoint key (`sk-aic-…`), as opposed to a user's API token (the platform's to authenticate). */
export const ENDPOINT_KEY = /^Bearer\s+sk-aic-/i;

/** A client's mistake in OpenAI's shape (`invalid_request_error`), without Retry-After unless `extra` says. */
export function invalidRequest(
  status: number,
  message: string,
  code: string | null,
  extra: Partial<OpenAIFailure> = {},
): OpenAIFailure {
  return {
    status,
    retryAfter: null,
    ...extra,
    body: () => ({ error: { message, type: 'invalid_request_error', param: null, code } }),
  };
}

function isOpenAIFailure(error: unknown): error is OpenAIFailure {
  return (
    typeof (error as OpenAIFailure)?.body === 'function' &&
    typeof (error as OpenAIFailure).status === 'number'
  );
}

/**
 * Writes an OpenAI-shaped error (with Retry-After and x-should-retry where they apply); anything else is a
 * 500 that says nothing of its cause. After the answer's head, it can only end the answer.
 */
export function writeOpenAIError(raw: ServerResponse, requestId: string, error: unknown): void {
  const failure: OpenAIFailure = isOpenAIFailure(error)
    ? error
    : {
        status: 500,
        retryAfter: null,
        body: () => ({ error: { message: 'internal error', type: 'server_error', param: null, code: null } }),
      };
  if (raw.headersSent) {
    raw.end();
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
  if (failure.retryAfter !== null) headers['retry-after'] = String(failure.retryAfter);
  if (typeof failure.shouldRetry === 'boolean') headers['x-should-retry'] = String(failure.shouldRetry);
  raw.writeHead(failure.status, headers);
  raw.end(JSON.stringify(failure.body()));
}
