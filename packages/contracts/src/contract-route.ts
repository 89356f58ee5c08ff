import { z } from 'zod';

/** The HTTP methods of the `/v1` API. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * One `/v1` route as the contract declares it: method, path (`:name` segments, or a trailing `*`), what the
 * OpenAPI description says, and the schemas of its body, query and success response. The server binds a
 * handler to it; the client calls it and validates the answer with `response`.
 */
export interface ContractRoute {
  method: HttpMethod;
  path: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodType;
  response: z.ZodType;
  /** Success status; 200 unless given. */
  status?: number;
}

/** Declares a contract route, keeping its literal method, path and schema types. */
export function contractRoute<const Route extends ContractRoute>(route: Route): Route {
  return route;
}

/** The `{ items: [...] }` list every listing answers with. */
export const itemsOf = <Item extends z.ZodType>(schema: Item) => z.object({ items: z.array(schema) });

type Segments<Path extends string> = Path extends `${infer Head}/${infer Rest}`
  ? Head | Segments<Rest>
  : Path;
type ParamName<Segment> = Segment extends `:${infer Name}` ? Name : Segment extends '*' ? '*' : never;

/** The path parameters of a route path: `/v1/teams/:team/secrets/:name` → `{ team: string; name: string }`. */
export type PathParams<Path extends string> = { [Name in ParamName<Segments<Path>>]: string };

/** What a caller sends as the body (the schema's input), or undefined when the route takes none. */
export type RouteBodyInput<Route> = Route extends { body: infer Body extends z.ZodType }
  ? z.input<Body>
  : undefined;
/** The body a handler receives, parsed (the schema's output). */
export type RouteBody<Route> = Route extends { body: infer Body extends z.ZodType }
  ? z.output<Body>
  : undefined;
/** What a caller sends as the query (the schema's input), or undefined when the route takes none. */
export type RouteQueryInput<Route> = Route extends { query: infer Query extends z.ZodType }
  ? z.input<Query>
  : undefined;
/** The query a handler receives, parsed (the schema's output). */
export type RouteQuery<Route> = Route extends { query: infer Query extends z.ZodType }
  ? z.output<Query>
  : undefined;
/** The success answer of a route (the response schema's output). */
export type RouteResponse<Route extends ContractRoute> = z.output<Route['response']>;
