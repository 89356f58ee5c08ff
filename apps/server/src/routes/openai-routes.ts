import type { Platform } from '@aicloud/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { listRegistryModels } from './model-routes.ts';

/** The data plane paths: authenticated by endpoint keys, answered in OpenAI's shapes. */
export const OPENAI_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models'];

/** Whether a URL belongs to the OpenAI-compatible data plane. */
export function isOpenAIPath(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return OPENAI_PATHS.includes(path);
}

interface OpenAIFailure {
  status: number;
  retryAfter: number | null;
  shouldRetry?: boolean | null;
  body(): unknown;
}

function isOpenAIFailure(error: unknown): error is OpenAIFailure {
  return (
    typeof (error as OpenAIFailure)?.body === 'function' &&
    typeof (error as OpenAIFailure).status === 'number'
  );
}

/** Sends an OpenAI-shaped error (with Retry-After where it applies). */
export function sendOpenAIError(reply: FastifyReply, error: unknown): void {
  const failure: OpenAIFailure = isOpenAIFailure(error)
    ? error
    : {
        status: 500,
        retryAfter: null,
        body: () => ({ error: { message: 'internal error', type: 'server_error', param: null, code: null } }),
      };
  if (reply.raw.headersSent) {
    reply.raw.end();
    return;
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-request-id': String(reply.request.id),
  };
  if (failure.retryAfter !== null) headers['retry-after'] = String(failure.retryAfter);
  if (typeof failure.shouldRetry === 'boolean') headers['x-should-retry'] = String(failure.shouldRetry);
  reply.raw.writeHead(failure.status, headers);
  reply.raw.end(JSON.stringify(failure.body()));
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-expose-headers': 'x-request-id, retry-after, x-should-retry',
};

/** Registers the OpenAI-compatible routes; the gateway does auth, limits, routing and metering. */
export function registerOpenAIRoutes(app: FastifyInstance, platform: Platform): void {
  const { gateway } = platform;
  for (const [path, operation] of [
    ['/v1/chat/completions', 'chat'],
    ['/v1/completions', 'text_completion'],
    ['/v1/embeddings', 'embeddings'],
  ] as const) {
    app.post(path, async (request, reply) => {
      reply.hijack();
      for (const [name, value] of Object.entries(CORS)) reply.raw.setHeader(name, value);
      try {
        await gateway.handle(operation, request.headers.authorization, request.body, reply.raw, request.id);
      } catch (error) {
        sendOpenAIError(reply, error);
      }
    });
    app.options(path, async (_request, reply) => reply.headers(CORS).status(204).send());
  }
  // GET /v1/models: the registry for a user token (authenticated by the API hook), the endpoints a key may
  // call for an endpoint key.
  app.get('/v1/models', async (request, reply) => {
    if (request.actor) return listRegistryModels(platform, request.actor, request.query);
    try {
      return reply.headers(CORS).send(await gateway.listModels(request.headers.authorization));
    } catch (error) {
      reply.hijack();
      sendOpenAIError(reply, error);
    }
  });
}
