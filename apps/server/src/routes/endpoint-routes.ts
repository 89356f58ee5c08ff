import {
  CreatedKey,
  CreateKeyRequest,
  DeployModelRequest,
  Endpoint,
  EndpointKey,
  ScaleEndpointRequest,
} from '@aicloud/contracts';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** Deploying models as endpoints, scaling them, and their keys. */
export function endpointRoutes({ endpoints }: RouteDeps) {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/endpoints',
      summary:
        'Deploy a scanned model version as a private OpenAI-compatible endpoint (policy: scan, budget, product limits)',
      tag: 'endpoints',
      body: DeployModelRequest,
      response: Endpoint,
      status: 201,
      handler: ({ actor, body }) => endpoints.deploy(actor, body),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/endpoints',
      summary: "Endpoints of the caller's teams with replicas and live numbers",
      tag: 'endpoints',
      response: z.object({ items: z.array(Endpoint) }),
      handler: async ({ actor }) => ({ items: await endpoints.list(actor) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/endpoints/:name',
      summary:
        'One endpoint: replicas, requests, errors, latency p50/p99, time to first token, tokens/s, cold starts',
      tag: 'endpoints',
      response: Endpoint,
      handler: ({ actor, params }) => endpoints.get(actor, params.name!),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/endpoints/:name/scale',
      summary: 'Change min and max replicas (min 0 scales to zero when idle)',
      tag: 'endpoints',
      body: ScaleEndpointRequest,
      response: Endpoint,
      handler: ({ actor, params, body }) => endpoints.scale(actor, params.name!, body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/endpoints/:name',
      summary: 'Delete an endpoint: its replicas stop and its keys are revoked',
      tag: 'endpoints',
      response: Endpoint,
      handler: ({ actor, params }) => endpoints.delete(actor, params.name!),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/keys',
      summary:
        'Create a key for an endpoint with optional rpm, tpm and token quota per period; the secret is in this response only',
      tag: 'endpoints',
      body: CreateKeyRequest,
      response: CreatedKey,
      status: 201,
      handler: ({ actor, body }) => endpoints.createKey(actor, body),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/keys',
      summary: "Keys of the caller's teams (never their secrets)",
      tag: 'endpoints',
      query: z.strictObject({ endpoint: z.string().optional() }),
      response: z.object({ items: z.array(EndpointKey) }),
      handler: async ({ actor, query }) => ({ items: await endpoints.listKeys(actor, query.endpoint) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/keys/:id',
      summary: 'Revoke a key at once',
      tag: 'endpoints',
      response: EndpointKey,
      handler: ({ actor, params }) => endpoints.revokeKey(actor, params.id!),
    }),
  ];
}
