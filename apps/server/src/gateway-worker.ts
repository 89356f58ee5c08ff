import { readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { getPriority, setPriority } from 'node:os';
import type { Duplex } from 'node:stream';
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
import { dataPlaneListener } from './data-plane.ts';

/** What the primary tells a gateway worker at fork (`AICLOUD_GATEWAY_WORKER`, JSON). */
export interface GatewayWorkerConfig {
  host: string;
  port: number;
  /** The primary's own listener: every request the worker does not serve itself goes there. */
  primaryUrl: string;
}

/** Headers that belong to one connection, never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te'];

/**
 * The workers' scheduling priority, relative to the server's (nice +5: about a third of the server's CPU share
 * when both want a core). A saturated data plane then cannot starve the server's process, which answers the
 * control plane and admits every worker's requests.
 */
const WORKER_NICENESS = 5;

/** Lowers this process's priority by `niceness`: every thread's (Linux sets it per thread), else the main one's. */
function yieldToServer(niceness: number): void {
  const target = Math.min(19, getPriority() + niceness);
  let threads: number[] = [0];
  try {
    threads = readdirSync('/proc/self/task').map(Number);
  } catch {
    // Not Linux: the main thread, which runs the requests.
  }
  for (const thread of threads)
    try {
      setPriority(thread, target);
    } catch {
      // A thread that ended meanwhile, or a system that refuses: the worker runs at the usual priority.
    }
}

/** The IPC channel to the primary (a cluster worker's `process.send`), and when what it sent has left. */
function processChannel(): Channel<ToPrimary, ToWorker> & { flushed(): Promise<void> } {
  let sending = 0;
  let drained: (() => void) | undefined;
  return {
    send(batch) {
      sending++;
      process.send?.(batch, () => {
        sending--;
        if (sending === 0) drained?.();
      });
    },
    onMessage(listener) {
      process.on('message', (batch) => listener(batch as ToWorker[]));
    },
    flushed() {
      return sending === 0 ? Promise.resolve() : new Promise((resolve) => (drained = resolve));
    },
  };
}

/**
 * A gateway worker (`aicloud up --gateway-workers N`, started by gateway-workers.ts): serves the OpenAI data
 * plane's POST routes for endpoint keys on the shared data-plane port with the server's own listener
 * (data-plane.ts), admitted by the primary over IPC, and passes every other request (and a provider route) to
 * the primary, which answers it as it answers on its own port.
 * @public (loaded by apps/server/bin/gateway-worker.mjs)
 */
export async function runGatewayWorker(): Promise<void> {
  const config = JSON.parse(process.env.AICLOUD_GATEWAY_WORKER ?? '{}') as GatewayWorkerConfig;
  yieldToServer(WORKER_NICENESS);
  const channel = processChannel();
  const admission = remoteAdmission(channel);
  const front = createGatewayFront(admission, systemClock);
  const primary = new Pool(config.primaryUrl, { connections: 32, keepAliveTimeout: 30_000 });
  const primaryAddress = new URL(config.primaryUrl);
  const primaryHost = primaryAddress.hostname.replace(/^\[|\]$/g, '');
  const primaryPort = Number(primaryAddress.port);

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

  const server = createServer(
    dataPlaneListener({
      front,
      passOn: (request, response) => forward(request, response),
      // A `<provider>/<model>` route: the server's provider gateway decides, as on its own port.
      elsewhere: async ({ request, response, raw }) => {
        await forward(request, response, raw);
        return true;
      },
      log: (message) => process.stderr.write(`gateway worker ${process.pid}: ${message}\n`),
    }),
  );
  // A websocket (the notebook proxy's): the upgrade request to the server's own port, then the bytes both ways.
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const upstream = connect(primaryPort, primaryHost);
    const drop = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', drop);
    upstream.on('error', drop);
    socket.on('close', drop);
    upstream.on('close', drop);
    upstream.on('connect', () => {
      // Node's parser refused any header with a line break: the head is written as it was read.
      const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}`];
      for (let index = 0; index < request.rawHeaders.length; index += 2)
        lines.push(`${request.rawHeaders[index]}: ${request.rawHeaders[index + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
  });
  // As Fastify's defaults on the primary's port.
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: config.host, port: config.port }, () => resolve());
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // A stuck request does not hold the worker past 30 s.
    setTimeout(() => process.exit(0), 30_000).unref();
    // In-flight requests end first, then their settlements reach the server, then the channel closes and the
    // worker exits (the channel alone would keep it alive).
    server.close(() => {
      void Promise.all([admission.close(), primary.close()])
        .then(() => new Promise((resolve) => setImmediate(resolve)))
        .then(() => channel.flushed())
        .then(() => {
          if (process.connected) process.disconnect();
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  // The primary is gone: nothing can admit a request any more.
  process.on('disconnect', () => {
    stop();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
