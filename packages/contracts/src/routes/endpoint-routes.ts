import { z } from 'zod';
import { contractRoute, itemsOf } from '../contract-route.ts';
import {
  CreatedKey,
  CreateKeyRequest,
  DeployModelRequest,
  Endpoint,
  EndpointKey,
  Rollout,
  ScaleEndpointRequest,
} from '../endpoints.ts';

/** Deploying models as endpoints, scaling them, and their keys. */
export const endpointRoutes = {
  deployModel: contractRoute({
    method: 'POST',
    path: '/v1/endpoints',
    summary:
      'Deploy a scanned model version as a private OpenAI-compatible endpoint (policy: scan, budget, product limits)',
    tag: 'endpoints',
    body: DeployModelRequest,
    response: Endpoint,
    status: 201,
  }),
  listEndpoints: contractRoute({
    method: 'GET',
    path: '/v1/endpoints',
    summary: "Endpoints of the caller's teams with replicas and live numbers",
    tag: 'endpoints',
    response: itemsOf(Endpoint),
  }),
  getEndpoint: contractRoute({
    method: 'GET',
    path: '/v1/endpoints/:name',
    summary:
      'One endpoint: replicas, requests, errors, latency p50/p99, time to first token, tokens/s, cold starts',
    tag: 'endpoints',
    response: Endpoint,
  }),
  scaleEndpoint: contractRoute({
    method: 'POST',
    path: '/v1/endpoints/:name/scale',
    summary: 'Change min and max replicas (min 0 scales to zero when idle)',
    tag: 'endpoints',
    body: ScaleEndpointRequest,
    response: Endpoint,
  }),
  deleteEndpoint: contractRoute({
    method: 'DELETE',
    path: '/v1/endpoints/:name',
    summary: 'Delete an endpoint: its replicas stop and its keys are revoked',
    tag: 'endpoints',
    response: Endpoint,
  }),
  getRollout: contractRoute({
    method: 'GET',
    path: '/v1/endpoints/:name/rollout',
    summary:
      "The endpoint's newest canary rollout: traffic weight, step, analysis window, and every decision with its figures",
    tag: 'endpoints',
    response: Rollout,
  }),
  promoteRollout: contractRoute({
    method: 'POST',
    path: '/v1/endpoints/:name/rollout/promote',
    summary: 'Promote the canary now, without waiting for its analysis (audited)',
    tag: 'endpoints',
    response: Rollout,
  }),
  abortRollout: contractRoute({
    method: 'POST',
    path: '/v1/endpoints/:name/rollout/abort',
    summary: 'Abort the canary: all traffic back to the serving version, the canary replicas stop (audited)',
    tag: 'endpoints',
    response: Rollout,
  }),
  createKey: contractRoute({
    method: 'POST',
    path: '/v1/keys',
    summary:
      'Create a key for an endpoint with optional rpm, tpm and token quota per period; the secret is in this response only',
    tag: 'endpoints',
    body: CreateKeyRequest,
    response: CreatedKey,
    status: 201,
  }),
  listKeys: contractRoute({
    method: 'GET',
    path: '/v1/keys',
    summary: "Keys of the caller's teams (never their secrets)",
    tag: 'endpoints',
    query: z.strictObject({ endpoint: z.string().optional() }),
    response: itemsOf(EndpointKey),
  }),
  revokeKey: contractRoute({
    method: 'DELETE',
    path: '/v1/keys/:id',
    summary: 'Revoke a key at once',
    tag: 'endpoints',
    response: EndpointKey,
  }),
};
