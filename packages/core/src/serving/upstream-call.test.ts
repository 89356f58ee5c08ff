import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUpstream, type UpstreamRequest } from './upstream-call.ts';

describe('callUpstream', () => {
  let server: Server;
  let pool: Pool;
  let origin: string;
  /** What the server saw, per path. */
  const seen = new Map<string, { body: string; closed: boolean }>();

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const path = request.url ?? '';
        const entry = { body, closed: false };
        seen.set(path, entry);
        response.on('close', () => {
          entry.closed = !response.writableFinished;
        });
        if (path === '/echo') {
          response.writeHead(201, { 'content-type': 'application/json', 'x-extra': 'yes' });
          response.end(body);
        } else if (path === '/many') {
          // 1000 lines of 4 KiB, written as fast as the socket takes them.
          response.writeHead(200, { 'content-type': 'text/plain' });
          let sent = 0;
          const write = () => {
            while (sent < 1000) {
              sent++;
              if (!response.write(`${String(sent).padStart(4, '0')}${'x'.repeat(4096)}\n`)) {
                response.once('drain', write);
                return;
              }
            }
            response.end();
          };
          write();
        } else if (path === '/endless') {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          const timer = setInterval(() => response.write('data: {}\n\n'), 5);
          response.on('close', () => clearInterval(timer));
        }
        // '/silent': never answers.
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pool = new Pool(origin, { connections: 4 });
  });

  afterAll(async () => {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const request = (path: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
    origin,
    path,
    headers: { 'content-type': 'application/json' },
    body: '{"hello":"wörld"}',
    headersTimeout: 5000,
    bodyTimeout: 5000,
    ...extra,
  });

  it('sends the body and reads the status, headers and whole answer', async () => {
    const answer = await callUpstream(pool, request('/echo')).answer;
    expect(answer.statusCode).toBe(201);
    expect(answer.headers['x-extra']).toBe('yes');
    expect(await answer.text()).toBe('{"hello":"wörld"}');
    expect(seen.get('/echo')?.body).toBe('{"hello":"wörld"}');
  });

  it('hands a long body over in order while the reader is slow (paused and resumed, nothing lost)', async () => {
    const answer = await callUpstream(pool, request('/many')).answer;
    let text = '';
    for (let chunk = await answer.next(); chunk !== null; chunk = await answer.next()) {
      text += chunk.toString('utf8');
      // A slow client: the replica's connection is paused meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(1000);
    expect(lines.map((line) => Number(line.slice(0, 4)))).toEqual(
      Array.from({ length: 1000 }, (_, index) => index + 1),
    );
    expect(await answer.next()).toBeNull();
  });

  it('cancels an answer in flight: the reader gets the reason, the server sees the connection close', async () => {
    const call = callUpstream(pool, request('/endless'));
    const answer = await call.answer;
    expect(await answer.next()).not.toBeNull();
    const reason = new Error('the client left');
    call.abort(reason);
    await expect(
      (async () => {
        for (;;) if ((await answer.next()) === null) return 'ended';
      })(),
    ).rejects.toBe(reason);
    await expect.poll(() => seen.get('/endless')?.closed).toBe(true);
  });

  it('cancels before the answer starts, and times out a replica that never answers', async () => {
    const early = callUpstream(pool, request('/silent'));
    const reason = new Error('gone at once');
    early.abort(reason);
    await expect(early.answer).rejects.toBe(reason);
    const slow = callUpstream(pool, request('/silent', { headersTimeout: 100 }));
    await expect(slow.answer).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
  });

  it('fails a request to a closed dispatcher through its answer, not by throwing', async () => {
    const closed = new Pool(origin);
    await closed.close();
    const call = callUpstream(closed, request('/echo'));
    await expect(call.answer).rejects.toMatchObject({
      name: expect.stringMatching(/^Client(Closed|Destroyed)Error$/),
    });
  });
});
