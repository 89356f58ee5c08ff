import type { ServerResponse } from 'node:http';
import { type Attributes, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_TOKEN_TYPE_VALUE_INPUT,
  GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
  METRIC_GEN_AI_SERVER_REQUEST_DURATION,
  METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
  METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
} from '@opentelemetry/semantic-conventions/incubating';
import { Counter, Registry } from 'prom-client';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { contextOfTraceparent, traceparentOf } from '../telemetry/traceparent.ts';
import type { Operation } from './openai-validation.ts';

/** The GenAI conventions' bucket boundaries (see docs/observability.md). */
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];

/** The provider name aicloud's own endpoints report (`gen_ai.provider.name`). */
export const GATEWAY_PROVIDER = 'aicloud';

/** What one gateway request tells its metrics and span as it goes. */
export interface GatewayObservation {
  /** The endpoint the request was admitted to (`gen_ai.request.model`). */
  requestModel(model: string): void;
  /** The model the answer names (`gen_ai.response.model`). */
  responseModel(model: string): void;
  /** The upstream call to the replica begins. */
  upstreamStarted(): void;
  /** The first content token reached the client (streaming): time to first token ends here. */
  firstToken(): void;
  /** The `traceparent` to send upstream, so the replica's work joins this request's trace. */
  traceparent(): string | undefined;
  /** Records the request: `errorType` set on failure (a client's error code, or an upstream one). */
  end(outcome: {
    tokensIn: number;
    tokensOut: number;
    errorType?: string | undefined;
    streamed: boolean;
  }): void;
}

const NOTHING: GatewayObservation = {
  requestModel() {},
  responseModel() {},
  upstreamStarted() {},
  firstToken() {},
  traceparent: () => undefined,
  end() {},
};

/** The gateway's metrics: the GenAI conventions on OpenTelemetry, and two aicloud counters on prom-client. */
export function createGatewayMetrics(telemetry: Telemetry) {
  const registry = new Registry();
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
  const { meter, tracer } = telemetry;
  const histogram = (name: string, unit: string, description: string, buckets: number[]) =>
    meter.createHistogram(name, { unit, description, advice: { explicitBucketBoundaries: buckets } });
  const requestDuration = histogram(
    METRIC_GEN_AI_SERVER_REQUEST_DURATION,
    's',
    'GenAI server request duration: from the request received to the last byte of the answer, refusals included',
    DURATION_BUCKETS,
  );
  const operationDuration = histogram(
    METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
    's',
    'GenAI operation duration: the gateway’s call to the model replica',
    DURATION_BUCKETS,
  );
  const tokenUsage = histogram(
    METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
    '{token}',
    'Tokens used per request',
    TOKEN_BUCKETS,
  );
  const timeToFirstToken = histogram(
    METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    's',
    'Time to generate the first content token (streamed requests)',
    TTFT_BUCKETS,
  );
  const timePerOutputToken = histogram(
    METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
    's',
    'Time per output token after the first (streamed requests)',
    TPOT_BUCKETS,
  );

  function begin(operation: Operation, response: ServerResponse): GatewayObservation {
    if (!telemetry.enabled) return NOTHING;
    const started = performance.now();
    const attributes: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: operation,
      [ATTR_GEN_AI_PROVIDER_NAME]: GATEWAY_PROVIDER,
    };
    // The address this request reached the gateway on: bounded, unlike the client's Host header.
    const socket = response.socket;
    if (socket?.localAddress) attributes[ATTR_SERVER_ADDRESS] = socket.localAddress;
    if (socket?.localPort) attributes[ATTR_SERVER_PORT] = socket.localPort;
    const span: Span = tracer.startSpan(
      operation,
      { kind: SpanKind.SERVER, attributes },
      contextOfTraceparent(response.req?.headers.traceparent),
    );
    let upstreamAt: number | null = null;
    let firstTokenAt: number | null = null;
    return {
      requestModel(model) {
        attributes[ATTR_GEN_AI_REQUEST_MODEL] = model;
        span.updateName(`${operation} ${model}`);
      },
      responseModel(model) {
        attributes[ATTR_GEN_AI_RESPONSE_MODEL] = model;
      },
      upstreamStarted() {
        upstreamAt = performance.now();
      },
      firstToken() {
        firstTokenAt ??= performance.now();
      },
      traceparent: () => traceparentOf(span),
      end({ tokensIn, tokensOut, errorType, streamed }) {
        const now = performance.now();
        const failed = errorType ? { ...attributes, [ATTR_ERROR_TYPE]: errorType } : attributes;
        requestDuration.record((now - started) / 1000, failed);
        if (upstreamAt !== null) operationDuration.record((now - upstreamAt) / 1000, failed);
        if (tokensIn > 0 || (upstreamAt !== null && !errorType))
          tokenUsage.record(tokensIn, {
            ...attributes,
            [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT,
          });
        if (operation !== 'embeddings' && (tokensOut > 0 || (upstreamAt !== null && !errorType)))
          tokenUsage.record(tokensOut, {
            ...attributes,
            [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
          });
        if (streamed && firstTokenAt !== null) {
          timeToFirstToken.record((firstTokenAt - started) / 1000, attributes);
          if (!errorType && tokensOut > 1)
            timePerOutputToken.record((now - firstTokenAt) / 1000 / (tokensOut - 1), attributes);
        }
        span.setAttributes(failed);
        if (upstreamAt !== null)
          span.setAttributes({
            [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: tokensIn,
            [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: tokensOut,
          });
        if (errorType) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
        span.end();
      },
    };
  }

  return {
    /** prom-client's registry of the aicloud counters (its content type is `/metrics`'). */
    registry,
    coldStarts,
    clientAborts,
    requestDuration,
    operationDuration,
    tokenUsage,
    timeToFirstToken,
    timePerOutputToken,
    /** Starts observing one request: a no-op when telemetry is off. */
    begin,
    /** The counters, then the GenAI histograms, in the Prometheus text format. */
    async text(): Promise<string> {
      const otel = await telemetry.prometheusText();
      return `${await registry.metrics()}${otel ? `${otel}\n` : ''}`;
    },
  };
}
