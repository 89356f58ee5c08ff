import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ErrorBody } from '@aicloud/contracts';
import { type Actor, AppError, type Platform } from '@aicloud/core';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { errorHandler } from './error-handler.ts';
import { openApiDocument, registerRoutes } from './route.ts';
import { approvalRoutes } from './routes/approval-routes.ts';
import { auditRoutes } from './routes/audit-routes.ts';
import { billRoutes } from './routes/bill-routes.ts';
import { catalogRoutes } from './routes/catalog-routes.ts';
import { endpointRoutes } from './routes/endpoint-routes.ts';
import { identityRoutes } from './routes/identity-routes.ts';
import { jobRoutes } from './routes/job-routes.ts';
import { isRegistryRequest, modelRoutes } from './routes/model-routes.ts';
import { notebookProxy } from './routes/notebook-proxy.ts';
import { notebookRoutes } from './routes/notebook-routes.ts';
import { isOpenAIPath, registerOpenAIRoutes } from './routes/openai-routes.ts';
import { workloadRoutes } from './routes/workload-routes.ts';

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

const BODY_LIMIT = 1024 * 1024;

/** What a job's run token may call: its own job's record and metrics, and whoami. */
function scopeAllows(scope: string, method: string, url: string): boolean {
  const path = url.split('?')[0] ?? '';
  const jobId = scope.startsWith('job:') ? scope.slice(4) : null;
  if (!jobId) return false;
  if (path === '/v1/whoami' && method === 'GET') return true;
  if (path === `/v1/jobs/${jobId}` && method === 'GET') return true;
  return path === `/v1/jobs/${jobId}/metrics` && (method === 'GET' || method === 'POST');
}

/** Builds the Fastify app over a platform; listening is the caller's business (tests use `inject`). */
export async function buildApp(platform: Platform, options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    genReqId: () => `req_${randomBytes(8).toString('hex')}`,
    requestIdHeader: false,
    return503OnClosing: true,
  });
  app.setErrorHandler(errorHandler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  // Every /v1 route needs a valid token; the portal's static files are public (they hold no data).
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') && request.url !== '/v1' && !request.url.startsWith('/metrics'))
      return;
    // The OpenAI-compatible data plane authenticates endpoint keys itself.
    if (
      isOpenAIPath(request.url) &&
      !isRegistryRequest(request.method, request.url, request.headers.authorization)
    )
      return;
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      throw new AppError(
        'unauthenticated',
        'missing API token: send "Authorization: Bearer <token>" (see `aicloud login`)',
      );
    }
    const principal = await platform.identity.authenticate(match[1]!);
    if (principal.scope && !scopeAllows(principal.scope, request.method, request.url)) {
      throw new AppError(
        'forbidden',
        `a run token (${principal.scope}) may only report metrics for, and read, its own job`,
      );
    }
    request.actor = { principal, requestId: request.id };
  });

  const routes = [
    ...identityRoutes(platform),
    ...auditRoutes(platform),
    ...catalogRoutes(platform),
    ...jobRoutes(platform),
    ...approvalRoutes(platform),
    ...workloadRoutes(platform),
    ...endpointRoutes(platform),
    ...billRoutes(platform),
    ...modelRoutes(platform),
    ...notebookRoutes(platform),
  ];
  registerRoutes(app, routes);
  await app.register(notebookProxy(platform));
  registerOpenAIRoutes(app, platform);
  app.get('/metrics', async (request, reply) => {
    if (!request.actor?.principal.platformAdmin)
      throw new AppError('forbidden', 'only platform-admins (or their scrape tokens) read /metrics');
    reply.type(platform.gateway.metrics.registry.contentType);
    return platform.gateway.metrics.registry.metrics();
  });
  const openapi = openApiDocument(routes, ErrorBody);
  app.get('/v1/openapi.json', async () => openapi);

  if (options.webRoot && existsSync(options.webRoot)) {
    await app.register(fastifyStatic, { root: options.webRoot, prefix: '/', wildcard: false });
  }
  const portalBuilt = options.webRoot !== null && existsSync(options.webRoot);
  app.setNotFoundHandler((request, reply) => {
    if (request.method === 'GET' && !request.url.startsWith('/v1')) {
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
