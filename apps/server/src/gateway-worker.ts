import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import {
  type Channel,
  createGatewayFront,
  remoteAdmission,
  systemClock,
  type ToPrimary,
  type ToWorker,
} from '@aicloud/core';
import { Pool } from 'undici';
import { BODY_LIMIT } from './body-limit.ts';
import { writeOpenAIError } from './openai-error-response.ts';

/** What the primary tells a gateway worker at fork (`AICLOUD_GATEWAY_WORKER`, JSON). */
export interface GatewayWorkerConfig {
  host: string;
  port: number;
  /** The primary's own listener: every request the worker does not serve itself goes there. */
  primaryUrl: string;
}

/** The data plane's own routes, by path (a trailing slash is the same route): what a worker serves itself. */
const OPERATIONS: Record<string, 'chat' | 'text_completion' | 'embeddings' | 'responses'> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'text_completion',
  '/v1/embeddings': 'embeddings',
  '/v1/responses': 'responses',
};

/** An endpoint key (`sk-aic-…`): a user's API token goes to the primary, which knows it. */
const ENDPOINT_KEY = /^Bearer\s+sk-aic-/i;

/** Headers that belong to one connection, never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te'];

/** The IPC channel to the primary (a cluster worker's `process.send`). */
function processChannel(): Channel<ToPrimary, ToWorker> {
  return {
    send(batch) {
      process.send?.(batch);
    },
    onMessage(listener) {
      process.on('message', (batch) => listener(batch as ToWorker[]));
    },
  };
}

/** Reads a request's body, at most `limit` bytes; null when it is larger. */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) return null;
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/**
 * A gateway worker (`aicloud up --gateway-workers N`, started by gateway-workers.ts): serves the OpenAI data
 * plane's POST routes for endpoint keys on the shared data-plane port, admitted by the primary over IPC, and
 * passes every other request (and every unusual one: a body too large, not JSON, a provider route) to the
 * primary, which answers it as it answers on its own port.
 * @public (loaded by apps/server/bin/gateway-worker.mjs)
 */
export async function runGatewayWorker(): Promise<void> {
  const config = JSON.parse(process.env.AICLOUD_GATEWAY_WORKER ?? '{}') as GatewayWorkerConfig;
  const admission = remoteAdmission(processChannel());
  const front = createGatewayFront(admission, systemClock);
  const primary = new Pool(config.primaryUrl, { connections: 32, keepAliveTimeout: 30_000 });

  /** Passes a request to the primary and its answer back; `body` when it was read already. */
  async function forward(request: IncomingMessage, response: ServerResponse, body?: Buffer) {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers))
      if (value !== undefined && !HOP_BY_HOP.includes(name)) headers[name] = value;
    if (body) headers['content-length'] = String(body.length);
    const abort = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished) abort.abort();
    });
    try {
      const upstream = await primary.request({
        path: request.url ?? '/',
        method: (request.method ?? 'GET') as 'GET',
        headers,
        body: body ?? (request.method === 'GET' || request.method === 'HEAD' ? null : request),
        signal: abort.signal,
        headersTimeout: 300_000,
        bodyTimeout: 0,
      });
      const answer: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upstream.headers))
        if (value !== undefined && !HOP_BY_HOP.includes(name)) answer[name] = value;
      response.writeHead(upstream.statusCode, answer);
      await pipeline(upstream.body, response);
    } catch (error) {
      if (abort.signal.aborted) return;
      if (!response.headersSent) {
        response.writeHead(502, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            error: {
              message: `the aicloud server did not answer: ${(error as Error).message}`,
              type: 'server_error',
              param: null,
              code: 'upstream_error',
            },
          }),
        );
      } else response.destroy();
    }
  }

  async function serve(request: IncomingMessage, response: ServerResponse) {
    const path = (request.url ?? '/').split('?')[0]?.replace(/\/+$/, '') ?? '';
    const operation = OPERATIONS[path];
    const authorization = request.headers.authorization;
    const json = /^application\/json\b/i.test(request.headers['content-type'] ?? '');
    if (request.method !== 'POST' || !operation || !json || !ENDPOINT_KEY.test(authorization ?? '')) {
      await forward(request, response);
      return;
    }
    const raw = await readBody(request, BODY_LIMIT);
    if (raw === null) {
      // Too large: the primary's own refusal (error-handler.ts), and the rest is not read.
      writeOpenAIError(response, requestId(), {
        status: 413,
        retryAfter: null,
        body: () => ({
          error: {
            message: 'request body is too large (limit 1 MiB)',
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        }),
      });
      response.once('finish', () => request.destroy());
      return;
    }
    const text = raw.toString('utf8');
    let body: unknown;
    try {
      // Prototype keys are the primary's parser's to refuse, as it refuses them on its own port.
      body = text.includes('__proto__') || text.includes('constructor') ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    const model = (body as { model?: unknown } | null | undefined)?.model;
    // Not JSON, or a `<provider>/<model>` of an external provider: the primary decides, as on its port.
    if (body === undefined || (typeof model === 'string' && model.includes('/'))) {
      await forward(request, response, raw);
      return;
    }
    const id = requestId();
    const origin = typeof request.headers.origin === 'string' ? request.headers.origin : undefined;
    try {
      if (operation === 'responses') await front.handleResponses(authorization, body, response, id, origin);
      else await front.handle(operation, authorization, body, response, id, origin);
    } catch (error) {
      if (!(error instanceof Error && 'body' in error))
        process.stderr.write(`gateway worker ${process.pid}: ${(error as Error)?.stack ?? error}\n`);
      writeOpenAIError(response, id, error);
    }
  }

  const server = createServer((request, response) => {
    serve(request, response).catch((error) => {
      process.stderr.write(`gateway worker ${process.pid}: ${(error as Error)?.stack ?? error}\n`);
      if (!response.headersSent) writeOpenAIError(response, requestId(), error);
      else response.destroy();
    });
  });
  // As Fastify's defaults on the primary's port.
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: config.host, port: config.port }, () => resolve());
  });
  const stop = () => {
    server.close();
    server.closeIdleConnections();
    void admission.close();
    void primary.close();
    // In-flight requests end first; a stuck one does not hold the worker past 30 s.
    setTimeout(() => process.exit(0), 30_000).unref();
  };
  process.on('SIGTERM', stop);
  // The primary is gone: nothing can admit a request any more.
  process.on('disconnect', () => {
    stop();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}

/** A request id, as the primary makes them (build-app.ts). */
function requestId(): string {
  return `req_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}
