import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Platform } from '@aicloud/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ENDPOINT_KEY, invalidRequest, writeOpenAIError } from '../openai-error-response.ts';
import { listRegistryModels } from './model-routes.ts';

/**
 * A data-plane handler that writes the raw response itself (status, SSE, backpressure); whatever it throws
 * before answering becomes OpenAI's error body.
 */
function answersItself(serve: (request: FastifyRequest, reply: FastifyReply) => Promise<void>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    try {
      await serve(request, reply);
    } catch (error) {
      sendOpenAIError(reply, error);
    }
  };
}

/** Sends an OpenAI-shaped error (with Retry-After where it applies). */
export function sendOpenAIError(reply: FastifyReply, error: unknown): void {
  writeOpenAIError(reply.raw, String(reply.request.id), error);
}

/** What the data plane serves, by path: the one method each allows. */
const SERVED: Record<string, string> = {
  '/v1/chat/completions': 'POST',
  '/v1/completions': 'POST',
  '/v1/embeddings': 'POST',
  '/v1/responses': 'POST',
  '/v1/models': 'GET',
};

const SERVED_LIST =
  'POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings, POST /v1/responses, GET /v1/models and GET /v1/models/{id}';

/** The header value of a browser's `Origin`, if any. */
const originOf = (request: FastifyRequest) =>
  typeof request.headers.origin === 'string' ? request.headers.origin : undefined;

/**
 * Whether an endpoint key calls a `/v1` route outside the data plane's own (a platform route, or none): the
 * data plane answers it, OpenAI's way, instead of the platform's 401 for a token it does not know.
 */
export function isEndpointKeyElsewhere(request: FastifyRequest): boolean {
  return ENDPOINT_KEY.test(request.headers.authorization ?? '') && /^\/v1\//.test(request.url);
}

/**
 * Answers an endpoint key outside the data plane's routes, after authenticating it: `GET /v1/models/{id}`
 * (`models.retrieve`), OpenAI's 404 for a stored response (`/v1/responses/resp_…`: none is kept), else
 * OpenAI's 405 for a served path with another method and 404 for any other path.
 */
export async function answerEndpointKey(platform: Platform, request: FastifyRequest, reply: FastifyReply) {
  reply.hijack();
  try {
    const cors = await platform.gateway.authenticateKey(request.headers.authorization, originOf(request));
    for (const [name, value] of Object.entries(cors)) reply.raw.setHeader(name, value);
    const path = (request.url.split('?')[0] ?? '').replace(/\/+$/, '');
    const model = /^\/v1\/models\/([^/]+)$/.exec(path)?.[1];
    if (model !== undefined && request.method === 'GET') {
      const body = JSON.stringify(
        await platform.gateway.retrieveModel(request.headers.authorization, decodeURIComponent(model)),
      );
      reply.raw.writeHead(200, { 'content-type': 'application/json', 'x-request-id': String(request.id) });
      reply.raw.end(body);
      return;
    }
    // A stored response (retrieve, delete, cancel, input items): none is ever kept.
    const stored = /^\/v1\/responses\/(resp_[^/]+)(?:\/|$)/.exec(path)?.[1];
    if (stored !== undefined) {
      sendOpenAIError(
        reply,
        invalidRequest(
          404,
          `Response with id '${stored}' not found: aicloud endpoints store no responses (store: true is accepted, nothing is kept); keep the output items you need and send them back as input.`,
          null,
        ),
      );
      return;
    }
    const allowed = model !== undefined ? 'GET' : SERVED[path];
    if (allowed && request.method !== allowed) {
      // Before the answer's head is written: a header set after it is lost.
      reply.raw.setHeader('allow', allowed);
      sendOpenAIError(
        reply,
        invalidRequest(
          405,
          `Invalid method for URL (${request.method} ${path}): it accepts ${allowed}.`,
          'method_not_allowed',
        ),
      );
      return;
    }
    sendOpenAIError(
      reply,
      invalidRequest(
        404,
        `Invalid URL (${request.method} ${path}): aicloud endpoints serve ${SERVED_LIST}.`,
        'unknown_url',
      ),
    );
  } catch (error) {
    sendOpenAIError(reply, error);
  }
}

/** Answers a CORS preflight: it carries no key, so any endpoint that allows the origin lets it through. */
async function preflight(platform: Platform, request: FastifyRequest, reply: FastifyReply) {
  const origin = originOf(request);
  const requested = request.headers['access-control-request-headers'];
  const headers = origin
    ? await platform.gateway.preflight(origin, typeof requested === 'string' ? requested : undefined)
    : null;
  if (headers) return reply.headers(headers).status(204).send();
  reply.hijack();
  sendOpenAIError(
    reply,
    invalidRequest(
      403,
      `CORS is off for ${origin ? `origin ${origin}` : 'requests without an Origin'}: an endpoint answers browsers only from the origins it was deployed with (corsOrigins).`,
      'cors_not_allowed',
    ),
  );
}

/**
 * Answers a request for `<provider>/<model>` of a registered external provider through the provider gateway
 * (PII, policy, fallbacks): true when it did. Chat completions only; anything else is the endpoints'.
 */
export async function providerRoute(
  platform: Platform,
  operation: string,
  body: unknown,
  headers: IncomingHttpHeaders,
  response: ServerResponse,
  requestId: string,
): Promise<boolean> {
  const model = (body as { model?: unknown } | null)?.model;
  if (operation !== 'chat' || !(await platform.providerGateway.serves(model))) return false;
  await platform.providerGateway.handle(
    { authorization: headers.authorization, body, datasets: headers['x-aicloud-datasets'], requestId },
    response,
  );
  return true;
}

/** Registers the OpenAI-compatible routes; the gateway does auth, limits, routing and metering. */
export function registerOpenAIRoutes(app: FastifyInstance, platform: Platform): void {
  const { gateway } = platform;
  for (const [path, operation] of [
    ['/v1/chat/completions', 'chat'],
    ['/v1/completions', 'text_completion'],
    ['/v1/embeddings', 'embeddings'],
  ] as const) {
    // A trailing slash is the same route, as OpenAI's own servers treat it.
    for (const url of [path, `${path}/`]) {
      app.post(
        url,
        answersItself(async (request, reply) => {
          if (await providerRoute(platform, operation, request.body, request.headers, reply.raw, request.id))
            return;
          await gateway.handle(
            operation,
            request.headers.authorization,
            request.body,
            reply.raw,
            request.id,
            originOf(request),
          );
        }),
      );
    }
  }
  // OpenAI's Responses API, translated to the endpoint's chat completions by the gateway.
  for (const url of ['/v1/responses', '/v1/responses/'])
    app.post(
      url,
      answersItself((request, reply) =>
        gateway.handleResponses(
          request.headers.authorization,
          request.body,
          reply.raw,
          request.id,
          originOf(request),
        ),
      ),
    );
  for (const url of [...Object.keys(SERVED).flatMap((path) => [path, `${path}/`]), '/v1/models/:id'])
    app.options(url, (request, reply) => preflight(platform, request, reply));
  // GET /v1/models: the registry for a user token (authenticated by the API hook), the endpoints a key may
  // call for an endpoint key.
  for (const url of ['/v1/models', '/v1/models/'])
    app.get(url, async (request, reply) => {
      if (request.actor) return listRegistryModels(platform, request.actor, request.query);
      reply.hijack();
      try {
        const cors = await gateway.authenticateKey(request.headers.authorization, originOf(request));
        const body = JSON.stringify(await gateway.listModels(request.headers.authorization));
        reply.raw.writeHead(200, {
          ...cors,
          'content-type': 'application/json',
          'x-request-id': String(request.id),
        });
        reply.raw.end(body);
      } catch (error) {
        sendOpenAIError(reply, error);
      }
    });
}
