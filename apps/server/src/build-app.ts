import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { ErrorBody } from '@aicloud/contracts';
import { type Actor, AppError, observabilityOf, type Platform } from '@aicloud/core';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { apiRoutes } from './api-routes.ts';
import { BODY_LIMIT } from './body-limit.ts';
import { dataPlaneListener, newRequestId } from './data-plane.ts';
import { errorHandler } from './error-handler.ts';
import { portalSessionRoutes, sessionActor, sessionTokenOf } from './portal-session.ts';
import { openApiDocument, registerRoutes } from './route.ts';
import { routeAuth } from './route-auth.ts';
import { MLFLOW_ARTIFACTS_PREFIX } from './routes/mlflow-artifact-routes.ts';
import { MLFLOW_PREFIXES, mlflowRoutes, RUN_TOKEN_ENDPOINTS } from './routes/mlflow-routes.ts';
import { notebookProxy } from './routes/notebook-proxy.ts';
import {
  answerEndpointKey,
  isEndpointKeyElsewhere,
  providerRoute,
  registerOpenAIRoutes,
} from './routes/openai-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
}

/** Options of the HTTP app beyond the platform's services. */
export interface AppOptions {
  /** Built portal to serve at `/`; null serves a page that says how to build it. */
  webRoot: string | null;
  logger?: FastifyServerOptions['logger'];
}

/** What a job's run token may call: its own job's record and metrics, and whoami (by the route that runs). */
function scopeAllows(scope: string, request: FastifyRequest): boolean {
  const jobId = scope.startsWith('job:') ? scope.slice(4) : null;
  if (!jobId) return false;
  const { method } = request;
  const route = request.routeOptions.url;
  if (route === '/v1/whoami') return method === 'GET';
  // MLflow's run endpoints: the handler then checks that the run is the job's own (mlflow-routes.ts).
  const mlflowPath = MLFLOW_PREFIXES.map((prefix) =>
    route?.startsWith(`${prefix}/`) ? route.slice(prefix.length) : null,
  ).find((path) => path !== null);
  if (mlflowPath) return RUN_TOKEN_ENDPOINTS.has(mlflowPath);
  // MLflow's artifact proxy: the handler checks that the run is the job's own (mlflow-artifact-routes.ts).
  if (route?.startsWith(`${MLFLOW_ARTIFACTS_PREFIX}/`)) return true;
  if ((request.params as { id?: string } | undefined)?.id !== jobId) return false;
  if (route === '/v1/jobs/:id') return method === 'GET';
  return route === '/v1/jobs/:id/metrics' && (method === 'GET' || method === 'POST');
}

/** Builds the Fastify app over a platform; listening is the caller's business (tests use `inject`). */
export async function buildApp(platform: Platform, options: AppOptions): Promise<FastifyInstance> {
  let closing = false;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // randomUUID draws from Node's pre-filled entropy cache; randomBytes(8) costs a syscall per request.
    genReqId: newRequestId,
    requestIdHeader: false,
    return503OnClosing: true,
    // The OpenAI data plane's POST routes at line rate: served before Fastify's router (data-plane.ts); with
    // the request log on (`aicloud up --log`), by Fastify, which logs each.
    serverFactory: options.logger
      ? undefined
      : (handler) => {
          const server = createServer(
            dataPlaneListener({
              front: platform.gateway,
              passOn: handler,
              elsewhere: ({ request, response, operation, body, requestId }) =>
                providerRoute(platform, operation, body, request.headers, response, requestId),
              closing: () => closing,
              log: (message) => process.stderr.write(`${message}\n`),
            }),
          );
          // Fastify's defaults, which it sets only on a server it makes itself.
          server.keepAliveTimeout = 72_000;
          server.requestTimeout = 0;
          return server;
        },
  });
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.setErrorHandler(errorHandler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));

  // Every route needs a valid token unless its config says who else authenticates it (routeAuth): decided
  // on the route the router matched, so no spelling of a URL (%76, //, /./) reaches a route without auth.
  app.addHook('onRequest', async (request, reply) => {
    if (routeAuth(request) !== 'token') return;
    // An endpoint key on any other /v1 route: the data plane answers it, OpenAI's way (retrieve, 404, 405).
    if (isEndpointKeyElsewhere(request)) return answerEndpointKey(platform, request, reply);
    const header = request.headers.authorization;
    // The portal's session cookie, when there is no Authorization header (from the portal only).
    const session = header ? null : sessionTokenOf(request.headers.cookie);
    if (session) {
      request.actor = await sessionActor(platform, request, reply, session);
      return;
    }
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      throw new AppError(
        'unauthenticated',
        'missing API token: send "Authorization: Bearer <token>" (see `aicloud login`)',
      );
    }
    const principal = await platform.identity.authenticate(match[1]!);
    if (principal.scope && !scopeAllows(principal.scope, request)) {
      throw new AppError(
        'forbidden',
        `a run token (${principal.scope}) may only report metrics for, and read, its own job (and log to its MLflow run)`,
      );
    }
    request.actor = { principal, requestId: request.id };
  });

  const routes = apiRoutes(platform);
  registerRoutes(app, routes);
  await app.register(portalSessionRoutes(platform));
  await app.register(notebookProxy(platform));
  // MLflow's tracking API: platform tokens as bearers, MLflow's shapes and error body.
  await app.register(mlflowRoutes(platform));
  // The data plane authenticates endpoint keys itself (GET /v1/models: a user token lists the registry).
  await app.register(async (dataPlane) => {
    dataPlane.addHook('onRoute', (route) => {
      route.config = {
        ...route.config,
        auth: /^\/v1\/models\/?$/.test(route.url) ? 'endpoint-key-or-token' : 'endpoint-key',
      };
    });
    registerOpenAIRoutes(dataPlane, platform);
  });
  app.get('/metrics', async (request, reply) => {
    if (!request.actor?.principal.platformAdmin)
      throw new AppError('forbidden', 'only platform-admins (or their scrape tokens) read /metrics');
    reply.type(platform.gateway.metrics.registry.contentType);
    // The gateway's GenAI metrics, then GPU telemetry and budget gauges.
    return observabilityOf(platform).metricsText();
  });
  const openapi = openApiDocument(routes, ErrorBody);
  app.get('/v1/openapi.json', async () => openapi);

  const portalBuilt = options.webRoot !== null && existsSync(options.webRoot);
  if (portalBuilt) {
    // reply.sendFile, for the portal's client-side routes (the not-found handler).
    await app.register(fastifyStatic, { root: options.webRoot!, serve: false });
    // The portal's files are public (they hold no data).
    await app.register(async (portal) => {
      portal.addHook('onRoute', (route) => {
        route.config = { ...route.config, auth: 'public' };
      });
      await portal.register(fastifyStatic, {
        root: options.webRoot!,
        prefix: '/',
        wildcard: false,
        decorateReply: false,
      });
    });
  }
  app.setNotFoundHandler((request, reply) => {
    if (routeAuth(request) === 'public') {
      // Client-side routes of the portal all load its index page.
      if (portalBuilt) return reply.sendFile('index.html');
      return reply
        .status(404)
        .type('text/plain')
        .send('The portal is not built: run `npm run build` (aicloud up builds it on start).\n');
    }
    errorHandler(
      new AppError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    );
  });
  return app;
}
