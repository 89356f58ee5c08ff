import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { AppError, type Platform } from '@aicloud/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { toErrorBody } from '../error-handler.ts';

type NotebookService = Platform['notebooks'];
type ProxyTarget = Awaited<ReturnType<NotebookService['authorizeProxy']>>;

/** The platform's session cookie for one notebook; never forwarded to Jupyter. */
const COOKIE = 'aicloud_nb';
const NOTEBOOK_PATH = /^\/notebooks\/(nb_[A-Za-z0-9]+)(\/|$)/;
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
/** How often an open websocket's credentials are checked again (a revoked token or membership ends it). */
const SESSION_RECHECK_MS = 1000;
/** Refusals that end a session (the notebook stopping closes Jupyter's side by itself). */
const SESSION_ENDED = new Set(['unauthenticated', 'not_found', 'forbidden']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The platform's cookie value and the other cookies (Jupyter's own, e.g. `_xsrf`), from a Cookie header. */
export function splitCookies(header: string | undefined): { ours: string | null; rest: string | null } {
  if (!header) return { ours: null, rest: null };
  let ours: string | null = null;
  const rest: string[] = [];
  for (const part of header.split(';')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    if (trimmed.startsWith(`${COOKIE}=`)) ours = trimmed.slice(COOKIE.length + 1);
    else rest.push(trimmed);
  }
  return { ours, rest: rest.length > 0 ? rest.join('; ') : null };
}

function bearerOf(headers: IncomingHttpHeaders): string | null {
  const match = headers.authorization ? /^Bearer\s+(\S+)$/i.exec(headers.authorization) : null;
  return match?.[1] ?? null;
}

/** A browser request from another site must not ride on the cookie (SameSite=Strict covers browsers that honour it). */
function checkOrigin(headers: IncomingHttpHeaders): void {
  const origin = headers.origin;
  if (!origin || origin === 'null') return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new AppError('forbidden', 'malformed Origin header');
  }
  if (host !== headers.host) {
    throw new AppError('forbidden', `cross-origin request from ${origin} refused by the notebook proxy`);
  }
}

/** Headers for Jupyter: hop-by-hop and platform credentials removed, Jupyter's token injected, Host and Origin its own. */
export function upstreamHeaders(
  headers: IncomingHttpHeaders,
  target: ProxyTarget,
  upgrade: boolean,
): Record<string, string | string[]> {
  const connectionTokens = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionTokens.has(lower)) continue;
    if (lower === 'authorization' || lower === 'cookie' || lower === 'host' || lower === 'origin') continue;
    if (lower === 'referer' || lower.startsWith('x-forwarded-')) continue;
    // Identity bodies only, so pages can be scrubbed of Jupyter's token (loopback/veth: nothing to save).
    if (lower === 'accept-encoding') continue;
    out[lower] = value;
  }
  const authority = `${target.host}:${target.port}`;
  out.host = authority;
  out.authorization = `token ${target.token}`;
  if (headers.origin) out.origin = `http://${authority}`;
  const { rest } = splitCookies(headers.cookie);
  if (rest) out.cookie = rest;
  if (upgrade) {
    out.connection = 'Upgrade';
    out.upgrade = String(headers.upgrade ?? 'websocket');
  }
  return out;
}

function downstreamHeaders(res: IncomingMessage, target: ProxyTarget): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionTokens = new Set(
    String(res.headers.connection ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionTokens.has(name)) continue;
    out[name] = value;
  }
  // Jupyter's own login cookie would be a second credential to Jupyter: the proxy sends the token instead.
  const cookies = res.headers['set-cookie']?.filter((cookie) => !/^username-/i.test(cookie.trim()));
  if (cookies && cookies.length > 0) out['set-cookie'] = cookies;
  else delete out['set-cookie'];
  const location = out.location;
  const origin = `http://${target.host}:${target.port}`;
  if (typeof location === 'string' && location.startsWith(origin))
    out.location = location.slice(origin.length) || '/';
  return out;
}

async function authorize(
  notebooks: NotebookService,
  id: string,
  headers: IncomingHttpHeaders,
  method: string,
): Promise<ProxyTarget> {
  const bearer = bearerOf(headers);
  const { ours } = splitCookies(headers.cookie);
  const target = await notebooks.authorizeProxy(id, { bearer, cookie: bearer ? null : ours });
  if (!bearer && !SAFE_METHODS.has(method)) checkOrigin(headers);
  return target;
}

function forward(request: FastifyRequest, reply: FastifyReply, target: ProxyTarget): Promise<FastifyReply> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest({
      host: target.host,
      port: target.port,
      method: request.method,
      path: request.url,
      headers: upstreamHeaders(request.headers, target, false),
    });
    upstream.on('response', (res) => {
      reply.code(res.statusCode ?? 502);
      const headers = downstreamHeaders(res, target);
      const type = String(res.headers['content-type'] ?? '');
      if (!type.startsWith('text/html') || res.headers['content-encoding']) {
        reply.headers(headers);
        resolve(reply.send(res));
        return;
      }
      // Jupyter writes its token into every page it renders (data-jupyter-api-token, ?token= links):
      // scrub it, so the browser's calls carry no token and the proxy adds it.
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => reject(error));
      res.on('end', () => {
        const html = Buffer.concat(chunks).toString('utf8').replaceAll(target.token, '');
        delete headers['content-length'];
        reply.headers(headers);
        resolve(reply.send(html));
      });
    });
    upstream.on('error', (error) => {
      reject(new AppError('unavailable', `notebook ${target.notebookId} did not answer: ${error.message}`));
    });
    request.raw.on('close', () => {
      if (!request.raw.complete) upstream.destroy();
    });
    if (request.method === 'GET' || request.method === 'HEAD') {
      upstream.end();
      return;
    }
    const body = request.body as Readable | undefined;
    (body && typeof body.pipe === 'function' ? body : request.raw).pipe(upstream);
  });
}

/** Writes an error answer on a raw socket (a refused websocket upgrade). */
function refuseUpgrade(socket: Duplex, error: unknown): void {
  const { status, body } = toErrorBody(error, 'upgrade');
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Error'}\r\n` +
      'Content-Type: application/json\r\nConnection: close\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/**
 * `/notebooks/:id/*` to the notebook's Jupyter, HTTP and websocket, for members of the notebook's team only.
 * A browser signs in with a one-time login URL (`/notebooks/:id/login?ticket=…`) that sets an HttpOnly,
 * SameSite=Strict cookie scoped to `/notebooks/:id/`; scripts may send `Authorization: Bearer <API token>`.
 * The proxy sends Jupyter its own token, so the Jupyter token never reaches the browser, and strips the
 * platform's cookie and token before anything reaches Jupyter. Every proxied request and websocket frame
 * counts as notebook activity. A session ends as soon as the API token that asked for its login URL is
 * revoked or expires, or its user leaves the notebook's team: both are checked on every request, and
 * every second for open websockets.
 */
export function notebookProxy(platform: Platform) {
  const { notebooks } = platform;
  return async (app: FastifyInstance): Promise<void> => {
    // Bodies stream through untouched (notebook saves can be large).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    app.get<{ Params: { id: string }; Querystring: { ticket?: string } }>(
      '/notebooks/:id/login',
      { config: { auth: 'notebook' } },
      async (request, reply) => {
        const { id } = request.params;
        const ticket = request.query.ticket;
        if (!ticket) {
          throw new AppError('unauthenticated', `no login ticket: run aicloud notebooks open ${id}`);
        }
        const cookie = await notebooks.redeemTicket(id, ticket);
        const secure = request.protocol === 'https' ? '; Secure' : '';
        reply.header(
          'set-cookie',
          `${cookie.name}=${cookie.value}; Path=${cookie.path}; Max-Age=${cookie.maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`,
        );
        reply.header('cache-control', 'no-store');
        reply.header('referrer-policy', 'no-referrer');
        // A page (not a 302): a SameSite=Strict cookie set during a cross-site navigation is only sent
        // on the next navigation that the page itself starts.
        const next = `/notebooks/${id}/tree`;
        return reply
          .type('text/html; charset=utf-8')
          .send(
            `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${next}"><title>aicloud notebook</title></head><body><p>Signed in. <a href="${next}">Open the notebook</a>.</p></body></html>\n`,
          );
      },
    );

    app.route<{ Params: { id: string } }>({
      method: ['GET', 'HEAD'],
      url: '/notebooks/:id',
      config: { auth: 'notebook' },
      exposeHeadRoute: false,
      handler: async (request, reply) => reply.redirect(`/notebooks/${request.params.id}/`),
    });

    app.route<{ Params: { id: string } }>({
      method: METHODS,
      url: '/notebooks/:id/*',
      config: { auth: 'notebook' },
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        const { id } = request.params;
        const target = await authorize(notebooks, id, request.headers, request.method);
        notebooks.touch(id);
        return forward(request, reply, target);
      },
    });

    const upgraded = new Set<Socket | Duplex>();
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const match = NOTEBOOK_PATH.exec(req.url ?? '');
      socket.on('error', () => socket.destroy());
      if (!match) {
        refuseUpgrade(socket, new AppError('not_found', `no websocket at ${(req.url ?? '').split('?')[0]}`));
        return;
      }
      const id = match[1]!;
      void (async () => {
        let target: ProxyTarget;
        try {
          target = await authorize(notebooks, id, req.headers, req.method ?? 'GET');
          checkOrigin(req.headers);
        } catch (error) {
          refuseUpgrade(socket, error);
          return;
        }
        notebooks.touch(id);
        const upstream = connect(target.port, target.host);
        upgraded.add(socket);
        upgraded.add(upstream);
        // The session may end while the socket is open: check its credentials again every second.
        const recheck = setInterval(() => {
          authorize(notebooks, id, req.headers, 'GET').catch((error: unknown) => {
            if (error instanceof AppError && SESSION_ENDED.has(error.code)) drop();
          });
        }, SESSION_RECHECK_MS);
        recheck.unref();
        const drop = () => {
          clearInterval(recheck);
          upgraded.delete(socket);
          upgraded.delete(upstream);
          socket.destroy();
          upstream.destroy();
        };
        upstream.on('error', drop);
        upstream.on('close', drop);
        socket.on('close', drop);
        upstream.on('connect', () => {
          const headers = upstreamHeaders(req.headers, target, true);
          const lines = [`${req.method ?? 'GET'} ${req.url} HTTP/1.1`];
          for (const [name, value] of Object.entries(headers)) {
            for (const each of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${each}`);
          }
          upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
          if (head.length > 0) upstream.write(head);
          // Frames either way are activity.
          socket.on('data', () => notebooks.touch(id));
          upstream.on('data', () => notebooks.touch(id));
          socket.pipe(upstream);
          upstream.pipe(socket);
        });
      })();
    });
    app.addHook('onClose', async () => {
      for (const socket of upgraded) socket.destroy();
      upgraded.clear();
    });
  };
}
