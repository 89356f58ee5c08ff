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
  const { tracer } = telemetry;
  const requestDuration = telemetry.histogram(
    METRIC_GEN_AI_SERVER_REQUEST_DURATION,
    's',
    'GenAI server request duration: from the request received to the last byte of the answer, refusals included',
    DURATION_BUCKETS,
  );
  const operationDuration = telemetry.histogram(
    METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
    's',
    'GenAI operation duration: the gateway’s call to the model replica',
    DURATION_BUCKETS,
  );
  const tokenUsage = telemetry.histogram(
    METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
    '{token}',
    'Tokens used per request',
    TOKEN_BUCKETS,
  );
  const timeToFirstToken = telemetry.histogram(
    METRIC_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    's',
    'Time to generate the first content token (streamed requests)',
    TTFT_BUCKETS,
  );
  const timePerOutputToken = telemetry.histogram(
    METRIC_GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
    's',
    'Time per output token after the first (streamed requests)',
    TPOT_BUCKETS,
  );

  function begin(operation: Operation, response: ServerResponse): GatewayObservation {
    if (!telemetry.enabled) return NOTHING;
    const started = performance.now();
    // The address this request reached the gateway on: bounded, unlike the client's Host header.
    const socket = response.socket;
    const address = socket?.localAddress;
    const port = socket?.localPort;
    let requestModel: string | undefined;
    let responseModel: string | undefined;
    /** The request's attributes; built only for a new series or a recording span. */
    const attributes = (extra?: Attributes): Attributes => ({
      [ATTR_GEN_AI_OPERATION_NAME]: operation,
      [ATTR_GEN_AI_PROVIDER_NAME]: GATEWAY_PROVIDER,
      ...(address ? { [ATTR_SERVER_ADDRESS]: address } : {}),
      ...(port ? { [ATTR_SERVER_PORT]: port } : {}),
      ...(requestModel === undefined ? {} : { [ATTR_GEN_AI_REQUEST_MODEL]: requestModel }),
      ...(responseModel === undefined ? {} : { [ATTR_GEN_AI_RESPONSE_MODEL]: responseModel }),
      ...extra,
    });
    const span: Span = tracer.startSpan(
      operation,
      { kind: SpanKind.SERVER },
      contextOfTraceparent(response.req?.headers.traceparent),
    );
    let upstreamAt: number | null = null;
    let firstTokenAt: number | null = null;
    return {
      requestModel(model) {
        requestModel = model;
        span.updateName(`${operation} ${model}`);
      },
      responseModel(model) {
        // The replica names it: a \0 of its own must not reach another series' key.
        responseModel = model.includes('\0') ? model.replaceAll('\0', '\uFFFD') : model;
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
        // The series key: every attribute that varies between requests, \0-separated (none contains one).
        const key = `${operation}\0${requestModel ?? '\u0001'}\0${responseModel ?? '\u0001'}\0${address}\0${port}`;
        const failedKey = `${key}\0${errorType ?? ''}`;
        const failed = () => attributes(errorType ? { [ATTR_ERROR_TYPE]: errorType } : undefined);
        requestDuration.series(failedKey, failed).record((now - started) / 1000);
        if (upstreamAt !== null)
          operationDuration.series(failedKey, failed).record((now - upstreamAt) / 1000);
        if (tokensIn > 0 || (upstreamAt !== null && !errorType))
          tokenUsage
            .series(`${key}\0input`, () =>
              attributes({ [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT }),
            )
            .record(tokensIn);
        if (operation !== 'embeddings' && (tokensOut > 0 || (upstreamAt !== null && !errorType)))
          tokenUsage
            .series(`${key}\0output`, () =>
              attributes({ [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT }),
            )
            .record(tokensOut);
        if (streamed && firstTokenAt !== null) {
          timeToFirstToken.series(key, attributes).record((firstTokenAt - started) / 1000);
          if (!errorType && tokensOut > 1)
            timePerOutputToken.series(key, attributes).record((now - firstTokenAt) / 1000 / (tokensOut - 1));
        }
        // Without a collector spans are not sampled: nothing more to give them.
        if (span.isRecording()) {
          span.setAttributes(failed());
          if (upstreamAt !== null)
            span.setAttributes({
              [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: tokensIn,
              [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: tokensOut,
            });
          if (errorType) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
        }
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
