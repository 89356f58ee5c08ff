import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Platform } from '@aicloud/core';
import { parse as secureJsonParse } from 'secure-json-parse';
import { BODY_LIMIT } from './body-limit.ts';
import {
  ENDPOINT_KEY,
  invalidRequest,
  type OpenAIFailure,
  writeOpenAIError,
} from './openai-error-response.ts';

/**
 * The OpenAI data plane's own listener: the POST routes an endpoint key calls (chat, completions, embeddings,
 * responses) served by plain node:http, in front of Fastify on the server's port and alone on a gateway
 * worker's. Fastify's routing, hooks and body parsing cost ~15 µs per request at line rate (bench:gateway's
 * profile); everything else (other routes, other methods, user tokens, other content types, a server that is
 * closing) is passed on untouched. Fastify keeps the same routes for `inject()` and answers them the same way.
 * Decision: docs/decisions/2026-12-05-gateway-line-rate.md.
 */

type Operation = 'chat' | 'text_completion' | 'embeddings';

/** The routes served here, by path; a trailing slash is the same route, as Fastify's routes take it. */
const OPERATIONS = new Map<string, Operation | 'responses'>();
for (const [path, operation] of [
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'text_completion'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/responses', 'responses'],
] as const) {
  OPERATIONS.set(path, operation);
  OPERATIONS.set(`${path}/`, operation);
}

/** JSON, as Fastify's parser takes it (with parameters such as a charset, nothing appended to the type). */
const JSON_TYPE = /^application\/json\s*(?:;|$)/i;
/** Text that may spell a prototype key (escaped or not): parsed by secure-json-parse, as Fastify does. */
const SUSPECT = /proto|constructor|\\u/;

/** A request id, as the server makes them (its Fastify's genReqId and this listener). */
export function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

export interface DataPlaneOptions {
  front: Pick<Platform['gateway'], 'handle' | 'handleResponses'>;
  /** Every request this listener does not serve: Fastify's handler, or a worker's pass to the server. */
  passOn(request: IncomingMessage, response: ServerResponse): void | Promise<void>;
  /**
   * A request for another model than an endpoint's (`<provider>/<model>`): true when it was answered there
   * (the server's provider gateway, or a worker's pass to the server with the body already read).
   */
  elsewhere(call: {
    request: IncomingMessage;
    response: ServerResponse;
    operation: Operation | 'responses';
    body: unknown;
    raw: Buffer;
    requestId: string;
  }): Promise<boolean>;
  /** While the server closes, Fastify answers (503 and no keep-alive). */
  closing?: () => boolean;
  log(message: string): void;
}

/** A body that cannot be read, refused with the server's own texts (error-handler.ts). */
const TOO_LARGE = invalidRequest(413, 'request body is too large (limit 1 MiB)', null);
const EMPTY = invalidRequest(
  400,
  "malformed request: Body cannot be empty when content-type is set to 'application/json'",
  null,
);
const NOT_JSON = invalidRequest(
  400,
  "malformed request: Body is not valid JSON but content-type is set to 'application/json'",
  null,
);

/** Reads a request's body: null when it is larger than `limit`, undefined when the client left first. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | null | undefined> {
  // Callbacks inline, not named: a bundle built with keepNames names each named closure it makes.
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      if (size > limit) return;
      size += chunk.length;
      if (size > limit) resolve(null);
      else chunks.push(chunk);
    });
    // A promise settles once: whichever of these comes first decides.
    request.on('end', () =>
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)),
    );
    request.on('error', () => resolve(undefined));
    request.on('close', () => resolve(undefined));
  });
}

/** Parses a JSON body as Fastify's parser does (prototype keys refused); undefined when it is not JSON. */
function parseJson(text: string): unknown {
  try {
    return SUSPECT.test(text)
      ? secureJsonParse(text, { protoAction: 'error', constructorAction: 'error' })
      : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The listener (`(request, response)`) for a node:http server. */
export function dataPlaneListener(options: DataPlaneOptions) {
  const { front } = options;

  /** Refuses a body that cannot be served; the rest of a body too large is not read. */
  function refuse(request: IncomingMessage, response: ServerResponse, failure: OpenAIFailure) {
    writeOpenAIError(response, newRequestId(), failure);
    if (failure === TOO_LARGE) response.once('finish', () => request.destroy());
  }

  async function serve(
    request: IncomingMessage,
    response: ServerResponse,
    operation: Operation | 'responses',
  ) {
    const length = Number(request.headers['content-length']);
    if (length > BODY_LIMIT) {
      refuse(request, response, TOO_LARGE);
      return;
    }
    const raw = await readBody(request, BODY_LIMIT);
    if (raw === undefined) return;
    if (raw === null) {
      refuse(request, response, TOO_LARGE);
      return;
    }
    if (raw.length === 0) {
      refuse(request, response, EMPTY);
      return;
    }
    const body = parseJson(raw.toString('utf8'));
    if (body === undefined) {
      refuse(request, response, NOT_JSON);
      return;
    }
    const requestId = newRequestId();
    const model = (body as { model?: unknown } | null)?.model;
    const authorization = request.headers.authorization;
    const origin = typeof request.headers.origin === 'string' ? request.headers.origin : undefined;
    try {
      if (typeof model === 'string' && model.includes('/')) {
        if (await options.elsewhere({ request, response, operation, body, raw, requestId })) return;
      }
      if (operation === 'responses')
        await front.handleResponses(authorization, body, response, requestId, origin);
      else await front.handle(operation, authorization, body, response, requestId, origin);
    } catch (error) {
      if (!(error instanceof Error && 'body' in error))
        options.log(`data plane, request ${requestId}: ${(error as Error)?.stack ?? error}`);
      writeOpenAIError(response, requestId, error);
    }
  }

  return (request: IncomingMessage, response: ServerResponse): void => {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const operation = OPERATIONS.get(query < 0 ? url : url.slice(0, query));
    if (
      operation === undefined ||
      request.method !== 'POST' ||
      !ENDPOINT_KEY.test(request.headers.authorization ?? '') ||
      !JSON_TYPE.test(request.headers['content-type'] ?? '') ||
      options.closing?.()
    ) {
      Promise.resolve(options.passOn(request, response)).catch((error: unknown) =>
        options.log(`data plane: ${(error as Error)?.stack ?? error}`),
      );
      return;
    }
    serve(request, response, operation).catch((error: unknown) => {
      options.log(`data plane: ${(error as Error)?.stack ?? error}`);
      if (!response.headersSent) writeOpenAIError(response, newRequestId(), error);
      else response.destroy();
    });
  };
}
