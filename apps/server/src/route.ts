import type {
  ContractRoute,
  HttpMethod,
  PathParams,
  RouteBody,
  RouteQuery,
  RouteResponse,
} from '@aicloud/contracts';
import { type Actor, AppError, type Platform } from '@aicloud/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

/** What a handler receives: the caller and the parsed request. */
export interface RouteContext<Body, Query, Params = Record<string, string>> {
  actor: Actor;
  body: Body;
  query: Query;
  params: Params;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One route with its schemas (which also make the OpenAPI description) and a thin handler. The aicloud `/v1`
 * routes come from the contract through {@link implement}; `defineRoute` is for routes outside it.
 */
export interface RouteSpec<Body = unknown, Query = unknown, Response = unknown> {
  method: HttpMethod;
  url: string;
  summary: string;
  tag: string;
  body?: z.ZodType<Body>;
  query?: z.ZodType<Query>;
  response: z.ZodType<Response>;
  /** Success status; 200 unless given. */
  status?: number;
  handler(context: RouteContext<Body, Query>): Promise<Response> | Response;
}

/** A route with its types erased, for tables of routes. */
export interface AnyRoute {
  method: HttpMethod;
  url: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodType;
  response: z.ZodType;
  status?: number;
  handler(context: RouteContext<never, never>): unknown;
}

/** Declares a route with its types inferred from its schemas. */
export function defineRoute<Body = undefined, Query = undefined, Response = unknown>(
  spec: RouteSpec<Body, Query, Response>,
): RouteSpec<Body, Query, Response> {
  return spec;
}

/** The handler of a contract route: typed by its path parameters, body, query and response. */
export type ContractHandler<Route extends ContractRoute> = (
  context: RouteContext<RouteBody<Route>, RouteQuery<Route>, PathParams<Route['path']>>,
) => Promise<RouteResponse<Route>> | RouteResponse<Route>;

/** Binds a handler to a route the contract declares (method, path, schemas and status come from it). */
export function implement<Route extends ContractRoute>(
  route: Route,
  handler: ContractHandler<Route>,
): AnyRoute {
  const { path, ...declared } = route;
  return { ...declared, url: path, handler: handler as unknown as AnyRoute['handler'] };
}

/** Registers routes on the app; every one requires an authenticated caller. */
export function registerRoutes(app: FastifyInstance, routes: AnyRoute[]): void {
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      handler: async (request, reply) => {
        // The app's hook authenticates every route that does not say otherwise; never run one without a caller.
        if (!request.actor) throw new AppError('unauthenticated', 'missing API token');
        const body = route.body ? route.body.parse(request.body ?? {}) : undefined;
        const query = route.query ? route.query.parse(request.query ?? {}) : undefined;
        const result = await route.handler({
          actor: request.actor,
          body: body as never,
          query: query as never,
          params: request.params as Record<string, string>,
          request,
          reply,
        });
        // A handler may pick the status itself (e.g. 202 for a held job); otherwise the route's default.
        if (reply.statusCode === 200 && route.status) reply.status(route.status);
        return result;
      },
    });
  }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'openapi-3.0' });
}

/** The OpenAPI 3.0 description of the `/v1` API, generated from the routes' schemas. */
export function openApiDocument(routes: AnyRoute[], errorBody: z.ZodType): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((match) => ({
      name: match[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (route.query) {
      const schema = jsonSchema(route.query, 'input') as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        parameters.push({
          name,
          in: 'query',
          required: schema.required?.includes(name) ?? false,
          schema: property as { type: string },
        });
      }
    }
    const errorResponse = {
      description: 'error',
      content: { 'application/json': { schema: jsonSchema(errorBody, 'output') } },
    };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      summary: route.summary,
      tags: [route.tag],
      security: [{ bearer: [] }],
      parameters,
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses: {
        [String(route.status ?? 200)]: {
          description: 'success',
          content: { 'application/json': { schema: jsonSchema(route.response, 'output') } },
        },
        default: errorResponse,
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'aicloud API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

/** Everything a route module needs. */
export type RouteDeps = Platform;
