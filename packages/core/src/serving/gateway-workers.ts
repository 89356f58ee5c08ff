import type { ServerResponse } from 'node:http';
import type { Pool } from 'undici';
import type { AdmitRequest, Gateway, GatewayAdmission, KeyEntry, Ticket, TicketOutcome } from './gateway.ts';
import { type GatewayRecord, observe } from './gateway-metrics.ts';
import { OpenAIError } from './openai-error.ts';
import type { Operation } from './openai-validation.ts';
import { replicaDispatcher } from './replica-pool.ts';

/**
 * Gateway workers (`aicloud up --gateway-workers N`): processes that serve the data plane's requests (HTTP,
 * validation, the upstream call, streaming) while the primary keeps every decision that needs shared state:
 * keys, rate limits, budgets, quota reservations, canary routes, replicas, metering and metrics. A worker asks
 * the primary's admission for each request over IPC and settles it there at the end, so that every limit is
 * exact across workers. Messages travel in batches, one per event-loop turn each way.
 * Decision: docs/decisions/2026-12-05-gateway-line-rate.md.
 */

/** A worker's messages to the primary. */
export type ToPrimary =
  | { t: 'lookup'; id: number; hash: string }
  | { t: 'admit'; id: number; request: AdmitRequest }
  | { t: 'settle'; ticket: number; outcome: TicketOutcome }
  | { t: 'record'; record: GatewayRecord };

/** The primary's messages to a worker. */
export type ToWorker =
  | { t: 'ok'; id: number; value: unknown }
  | { t: 'error'; id: number; error: SentError }
  | { t: 'forget' };

/** An error as it crosses the process boundary: OpenAI's fields, or only a message (a 500 for the client). */
interface SentError {
  message: string;
  openai?: {
    status: number;
    type: string;
    code: string | null;
    param: string | null;
    retryAfter: number | null;
    shouldRetry: boolean | null;
  };
}

/** One side of the IPC channel: batches of messages. */
export interface Channel<Out, In> {
  send(batch: Out[]): void;
  onMessage(listener: (batch: In[]) => void): void;
}

/** Queues messages and sends them as one batch when the event loop turns. */
function batcher<T>(send: (batch: T[]) => void): (message: T) => void {
  let queue: T[] = [];
  return (message) => {
    queue.push(message);
    if (queue.length > 1) return;
    setImmediate(() => {
      const batch = queue;
      queue = [];
      send(batch);
    });
  };
}

function sendable(error: unknown): SentError {
  if (error instanceof OpenAIError)
    return {
      message: error.message,
      openai: {
        status: error.status,
        type: error.type,
        code: error.code,
        param: error.param,
        retryAfter: error.retryAfter,
        shouldRetry: error.shouldRetry,
      },
    };
  return { message: error instanceof Error ? error.message : String(error) };
}

function received(error: SentError): Error {
  const { openai } = error;
  return openai
    ? new OpenAIError(
        openai.status,
        error.message,
        openai.type,
        openai.code,
        openai.param,
        openai.retryAfter,
        openai.shouldRetry,
      )
    : new Error(error.message);
}

/**
 * The primary's side of one worker: answers its lookups and admissions from `gateway`'s own state, settles its
 * tickets, records its requests' metrics, and tells it when keys or routes change. `exited()` settles whatever
 * the worker still held (its replicas and reservations come back; the prompts of its requests in flight are
 * billed, their output is not known).
 */
export function serveGatewayWorker(
  gateway: Pick<Gateway, 'admission' | 'metrics' | 'onForget'>,
  channel: Channel<ToWorker, ToPrimary>,
): { exited(): void } {
  const tickets = new Map<number, { ticket: Ticket; promptTokens: number; at: number }>();
  let nextTicket = 1;
  let gone = false;
  const send = batcher<ToWorker>((batch) => {
    if (!gone) channel.send(batch);
  });
  const fail = (id: number) => (error: unknown) => send({ t: 'error', id, error: sendable(error) });
  const stopForgetting = gateway.onForget(() => send({ t: 'forget' }));

  function release(id: number, outcome: (held: { promptTokens: number; at: number }) => TicketOutcome) {
    const held = tickets.get(id);
    if (!held) return;
    tickets.delete(id);
    held.ticket.settle(outcome(held));
  }

  channel.onMessage((batch) => {
    for (const message of batch) {
      switch (message.t) {
        case 'lookup':
          gateway.admission.lookup(message.hash).then(
            (entry) =>
              send({
                t: 'ok',
                id: message.id,
                value: { key: entry.key, endpoint: entry.endpoint, capabilities: entry.capabilities },
              }),
            fail(message.id),
          );
          break;
        case 'admit': {
          const { id, request } = message;
          gateway.admission.admit(request).then((ticket) => {
            const number = nextTicket++;
            tickets.set(number, { ticket, promptTokens: request.promptTokens, at: performance.now() });
            // Gone while it was admitted: nobody will settle it.
            if (gone) unheld(number);
            else
              send({
                t: 'ok',
                id,
                value: {
                  ticket: number,
                  socket: ticket.socket,
                  version: ticket.version,
                  coldStartMs: ticket.coldStartMs,
                },
              });
          }, fail(id));
          break;
        }
        case 'settle':
          release(message.ticket, () => message.outcome);
          break;
        case 'record':
          gateway.metrics.replay(message.record);
          break;
      }
    }
  });

  function unheld(id: number) {
    release(id, ({ promptTokens, at }) => ({
      ok: false,
      latencyMs: performance.now() - at,
      firstTokenMs: null,
      tokensIn: promptTokens,
      tokensOut: 0,
      aborted: false,
    }));
  }

  return {
    exited() {
      gone = true;
      stopForgetting();
      for (const id of [...tickets.keys()]) unheld(id);
    },
  };
}

/**
 * A worker's admission: asks the primary (keys cached 2 s, as the primary caches them, and dropped when it says
 * they changed), and reaches replicas through its own connection pools.
 */
export function remoteAdmission(
  channel: Channel<ToPrimary, ToWorker>,
): GatewayAdmission & { close(): Promise<void> } {
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  const send = batcher<ToPrimary>((batch) => channel.send(batch));
  const keys = new Map<string, { entry: Promise<KeyEntry>; at: number }>();
  const pools = new Map<string, { pool: Pool; usedAt: number }>();

  channel.onMessage((batch) => {
    for (const message of batch) {
      if (message.t === 'forget') {
        keys.clear();
        continue;
      }
      const request = waiting.get(message.id);
      if (!request) continue;
      waiting.delete(message.id);
      if (message.t === 'ok') request.resolve(message.value);
      else request.reject(received(message.error));
    }
  });

  function ask<T>(message: { t: 'lookup'; hash: string } | { t: 'admit'; request: AdmitRequest }) {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      send({ ...message, id });
    });
  }

  /** The connection pool to a replica's socket: one per replica, closed after a minute unused. */
  function dispatcherOf(socket: string): Pool {
    let entry = pools.get(socket);
    if (!entry) {
      entry = { pool: replicaDispatcher(socket), usedAt: 0 };
      pools.set(socket, entry);
    }
    entry.usedAt = Date.now();
    return entry.pool;
  }
  const sweep = setInterval(() => {
    for (const [socket, entry] of pools)
      if (Date.now() - entry.usedAt > 60_000) {
        pools.delete(socket);
        void entry.pool.close().catch(() => {});
      }
  }, 30_000);
  sweep.unref();

  return {
    lookup(hash) {
      const cached = keys.get(hash);
      if (cached && Date.now() - cached.at < 2000) return cached.entry;
      const entry = ask<KeyEntry>({ t: 'lookup', hash });
      keys.set(hash, { entry, at: Date.now() });
      // A refusal is not kept: the next request asks again.
      entry.catch(() => {
        if (keys.get(hash)?.entry === entry) keys.delete(hash);
      });
      return entry;
    },

    async admit(request) {
      const admitted = await ask<{
        ticket: number;
        socket: string;
        version: number;
        coldStartMs: number | null;
      }>({ t: 'admit', request });
      let settled = false;
      return {
        socket: admitted.socket,
        origin: 'http://replica',
        dispatcher: dispatcherOf(admitted.socket),
        version: admitted.version,
        coldStartMs: admitted.coldStartMs,
        settle(outcome) {
          if (settled) return;
          settled = true;
          send({ t: 'settle', ticket: admitted.ticket, outcome });
        },
      };
    },

    observe(operation: Operation, response: ServerResponse) {
      return observe(operation, response, (record) => send({ t: 'record', record }));
    },

    async close() {
      clearInterval(sweep);
      await Promise.all([...pools.values()].map((entry) => entry.pool.close().catch(() => {})));
    },
  };
}
