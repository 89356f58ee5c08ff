import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/start-server.ts';
import { tinyModelServer } from './tiny-model.ts';

/**
 * The data plane's own listener (data-plane.ts) serves the POST routes on the server's port before Fastify;
 * Fastify keeps the same routes (for `inject()`). Every request, usual or not, must get the same answer from
 * both: the listener is a shortcut, never a second set of rules.
 */
let server: RunningServer;
let alice: Client;
let key: string;
let userToken: string;

beforeAll(async () => {
  const started = await tinyModelServer('aicloud-data-plane-');
  server = started.server;
  userToken = started.tokens.alice.token as string;
  alice = createClient({ url: server.url, token: userToken });
  await alice.models.register({ name: 'plane-model', source: `path:${join(started.work, 'model')}` });
  // Scaled to zero and never called with its own name: no replica starts.
  await alice.endpoints.deploy({ model: 'plane-model', version: 1, scaleToZero: true });
  key = (await alice.keys.create({ endpoint: 'plane-model', name: 'plane' })).key;
}, 120_000);
afterAll(async () => {
  await alice?.endpoints.delete('plane-model').catch(() => {});
  await server?.stop();
});

interface Case {
  name: string;
  method?: string;
  path?: string;
  contentType?: string;
  authorization?: () => string;
  body?: string;
}

const chat = (model: string, content = 'hi') =>
  JSON.stringify({ model, messages: [{ role: 'user', content }] });

const cases: Case[] = [
  { name: 'an unknown model', body: chat('nope') },
  { name: 'a trailing slash', path: '/v1/chat/completions/', body: chat('nope') },
  { name: 'a query string', path: '/v1/chat/completions?x=1', body: chat('nope') },
  {
    name: 'an embeddings request',
    path: '/v1/embeddings',
    body: JSON.stringify({ model: 'nope', input: 'x' }),
  },
  { name: 'a Responses request', path: '/v1/responses', body: JSON.stringify({ model: 'nope', input: 'x' }) },
  { name: 'no messages', body: JSON.stringify({ model: 'plane-model' }) },
  { name: 'an empty body', body: '' },
  { name: 'broken JSON', body: '{"model":' },
  { name: 'JSON null', body: 'null' },
  { name: 'a __proto__ key', body: '{"__proto__":{"admin":true},"model":"nope"}' },
  { name: 'an escaped __proto__ key', body: '{"\\u005f_proto__":{"admin":true},"model":"nope"}' },
  {
    name: 'a constructor.prototype key',
    body: '{"constructor":{"prototype":{"admin":true}},"model":"nope"}',
  },
  { name: 'prototype words in a text', body: chat('nope', 'the constructor of __proto__ is caf\\u00e9') },
  { name: 'a body over 1 MiB', body: chat('nope', 'x'.repeat(1024 * 1024)) },
  { name: 'JSON with a charset', contentType: 'application/json; charset=utf-8', body: chat('nope') },
  { name: 'another JSON type', contentType: 'application/json-patch+json', body: chat('nope') },
  { name: 'plain text', contentType: 'text/plain', body: chat('nope') },
  { name: 'a provider model nobody registered', body: chat('acme/gpt-x') },
  { name: 'a wrong key', authorization: () => 'Bearer sk-aic-wrong', body: chat('nope') },
  { name: "a user's API token", authorization: () => `Bearer ${userToken}`, body: chat('nope') },
  { name: 'GET on a POST route', method: 'GET' },
];

/** Status and body (the platform's request id, different per request, left out). */
function normalized(status: number, text: string) {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  const error = (body as { error?: { requestId?: unknown } } | null)?.error;
  if (error && typeof error === 'object') delete error.requestId;
  return { status, body };
}

describe('the data plane listener in front of Fastify', () => {
  it.each(cases)('answers $name as Fastify does', async (test) => {
    const method = test.method ?? 'POST';
    const path = test.path ?? '/v1/chat/completions';
    const headers: Record<string, string> = {
      authorization: test.authorization?.() ?? `Bearer ${key}`,
      ...(test.body !== undefined ? { 'content-type': test.contentType ?? 'application/json' } : {}),
    };
    const viaPort = await fetch(`${server.url}${path}`, { method, headers, body: test.body });
    const viaFastify = await server.app.inject({
      method: method as 'POST',
      url: path,
      headers,
      payload: test.body,
    });
    const ours = normalized(viaPort.status, await viaPort.text());
    expect(ours).toEqual(normalized(viaFastify.statusCode, viaFastify.body));
    expect(viaPort.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{16}$/);
    expect(ours.status).toBeGreaterThanOrEqual(400);
    expect(ours.status).toBeLessThan(500);
  });

  it('refuses a chunked body over 1 MiB with 413 without reading it all', async () => {
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const sent = httpRequest(
        `${server.url}/v1/chat/completions`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      sent.on('error', reject);
      // 8 MiB in 64 KiB chunks, no content-length: the server stops at the limit.
      const chunk = 'x'.repeat(64 * 1024);
      let left = 128;
      const write = () => {
        while (left > 0) {
          left--;
          if (!sent.write(chunk)) {
            sent.once('drain', write);
            return;
          }
        }
        sent.end();
      };
      sent.on('error', () => {});
      write();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text).error.message).toBe('request body is too large (limit 1 MiB)');
  });
});
