import { Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the gateway, named after the OpenTelemetry GenAI conventions. */
export function createGatewayMetrics() {
  const registry = new Registry();
  const labels = [
    'gen_ai_operation_name',
    'gen_ai_provider_name',
    'gen_ai_request_model',
    'error_type',
  ] as const;
  const requestDuration = new Histogram({
    name: 'gen_ai_server_request_duration',
    help: 'GenAI server request duration (seconds)',
    labelNames: labels,
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
    registers: [registry],
  });
  const timeToFirstToken = new Histogram({
    name: 'gen_ai_server_time_to_first_token',
    help: 'Time to generate the first token (seconds)',
    labelNames: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model'] as const,
    buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    registers: [registry],
  });
  const tokenUsage = new Histogram({
    name: 'gen_ai_client_token_usage',
    help: 'Tokens used per request',
    labelNames: [
      'gen_ai_operation_name',
      'gen_ai_provider_name',
      'gen_ai_request_model',
      'gen_ai_token_type',
    ] as const,
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
    registers: [registry],
  });
  const coldStarts = new Counter({
    name: 'aicloud_endpoint_cold_starts_total',
    help: 'Requests that waited for a replica to start',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  });
  const clientAborts = new Counter({
    name: 'aicloud_gateway_client_aborts_total',
    help: 'Requests whose client went away before the answer ended (the upstream request was cancelled)',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  });
  return { registry, requestDuration, timeToFirstToken, tokenUsage, coldStarts, clientAborts };
}

/** The gateway's metrics. */
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
