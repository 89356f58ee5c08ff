import { contractRoute } from '../contract-route.ts';
import { EndpointEval, EndpointEvals, EvaluateEndpointRequest } from '../quality.ts';

/** Quality evaluations of endpoints. */
export const qualityRoutes = {
  evaluateEndpoint: contractRoute({
    method: 'POST',
    path: '/v1/endpoints/:name/evals',
    summary:
      'Evaluate an endpoint now on a registered JSONL dataset (exact match, token F1, optional judge endpoint); --every keeps running it',
    tag: 'endpoints',
    body: EvaluateEndpointRequest,
    response: EndpointEval,
    status: 201,
  }),
  listEndpointEvals: contractRoute({
    method: 'GET',
    path: '/v1/endpoints/:name/evals',
    summary: "An endpoint's evaluation schedule and its evaluations per version, newest first",
    tag: 'endpoints',
    response: EndpointEvals,
  }),
};
