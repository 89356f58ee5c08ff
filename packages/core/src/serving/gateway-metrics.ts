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

/** One finished gateway request, as its metrics and span record it (sent by a gateway worker to the primary). */
export interface GatewayRecord {
  operation: Operation;
  requestModel?: string | undefined;
  responseModel?: string | undefined;
  /** The address and port the request reached the gateway on (bounded, unlike the client's Host header). */
  address?: string | undefined;
  port?: number | undefined;
  /** From the request received to the end of the answer (or the refusal). */
  durationS: number;
  /** The upstream call to the replica, when there was one. */
  upstreamS: number | null;
  /** To the first content token (streamed requests). */
  ttftS: number | null;
  tokensIn: number;
  tokensOut: number;
  errorType?: string | undefined;
  streamed: boolean;
  /** The client's `traceparent`, which the request's span continues. */
  traceparent?: string | undefined;
}

/**
 * Observes one request: times it and hands its record to `done` at the end. A gateway worker passes a `done`
 * that sends the record to the primary, which holds the metrics (`replay`).
 */
export function observe(
  operation: Operation,
  response: ServerResponse,
  done: (request: GatewayRecord) => void,
  traceparent: () => string | undefined = () => undefined,
): GatewayObservation {
  const started = performance.now();
  const socket = response.socket;
  let requestModel: string | undefined;
  let responseModel: string | undefined;
  let upstreamAt: number | null = null;
  let firstTokenAt: number | null = null;
  return {
    requestModel(model) {
      requestModel = model;
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
    traceparent,
    end({ tokensIn, tokensOut, errorType, streamed }) {
      const now = performance.now();
      const header = response.req?.headers.traceparent;
      done({
        operation,
        requestModel,
        responseModel,
        address: socket?.localAddress,
        port: socket?.localPort,
        durationS: (now - started) / 1000,
        upstreamS: upstreamAt === null ? null : (now - upstreamAt) / 1000,
        ttftS: firstTokenAt === null ? null : (firstTokenAt - started) / 1000,
        tokensIn,
        tokensOut,
        errorType,
        streamed,
        traceparent: typeof header === 'string' ? header : undefined,
      });
    },
  };
}

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

  /** The request's attributes; built only for a new series or a recording span. */
  const attributesOf = (record: GatewayRecord, extra?: Attributes): Attributes => ({
    [ATTR_GEN_AI_OPERATION_NAME]: record.operation,
    [ATTR_GEN_AI_PROVIDER_NAME]: GATEWAY_PROVIDER,
    ...(record.address ? { [ATTR_SERVER_ADDRESS]: record.address } : {}),
    ...(record.port ? { [ATTR_SERVER_PORT]: record.port } : {}),
    ...(record.requestModel === undefined ? {} : { [ATTR_GEN_AI_REQUEST_MODEL]: record.requestModel }),
    ...(record.responseModel === undefined ? {} : { [ATTR_GEN_AI_RESPONSE_MODEL]: record.responseModel }),
    ...extra,
  });

  /** Records one finished request in the histograms and, when it is sampled, on its span; ends the span. */
  function record(request: GatewayRecord, span: Span): void {
    const { operation, requestModel, responseModel, tokensIn, tokensOut, errorType } = request;
    // The series key: every attribute that varies between requests, \0-separated (none contains one).
    const key = `${operation}\0${requestModel ?? '\u0001'}\0${responseModel ?? '\u0001'}\0${request.address}\0${request.port}`;
    const failedKey = `${key}\0${errorType ?? ''}`;
    const failedAttributes = errorType ? { [ATTR_ERROR_TYPE]: errorType } : undefined;
    const upstream = request.upstreamS !== null;
    // The attribute sets are made only for a new series. Callbacks written inline, not named: a bundle built
    // with keepNames names every named closure it makes (Object.defineProperty), per request here.
    requestDuration
      .series(failedKey, () => attributesOf(request, failedAttributes))
      .record(request.durationS);
    if (request.upstreamS !== null)
      operationDuration
        .series(failedKey, () => attributesOf(request, failedAttributes))
        .record(request.upstreamS);
    if (tokensIn > 0 || (upstream && !errorType))
      tokenUsage
        .series(`${key}\0input`, () =>
          attributesOf(request, { [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT }),
        )
        .record(tokensIn);
    if (operation !== 'embeddings' && (tokensOut > 0 || (upstream && !errorType)))
      tokenUsage
        .series(`${key}\0output`, () =>
          attributesOf(request, { [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT }),
        )
        .record(tokensOut);
    if (request.streamed && request.ttftS !== null) {
      timeToFirstToken.series(key, () => attributesOf(request)).record(request.ttftS);
      if (!errorType && tokensOut > 1)
        timePerOutputToken
          .series(key, () => attributesOf(request))
          .record((request.durationS - request.ttftS) / (tokensOut - 1));
    }
    // Without a collector spans are not sampled: nothing more to give them.
    if (span.isRecording()) {
      if (requestModel !== undefined) span.updateName(`${operation} ${requestModel}`);
      span.setAttributes(attributesOf(request, failedAttributes));
      if (upstream)
        span.setAttributes({
          [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: tokensIn,
          [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: tokensOut,
        });
      if (errorType) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
  }

  function begin(operation: Operation, response: ServerResponse): GatewayObservation {
    if (!telemetry.enabled) return NOTHING;
    const span: Span = tracer.startSpan(
      operation,
      { kind: SpanKind.SERVER },
      contextOfTraceparent(response.req?.headers.traceparent),
    );
    return observe(
      operation,
      response,
      (request) => {
        record(request, span);
        span.end();
      },
      () => traceparentOf(span),
    );
  }

  /**
   * Records a request a gateway worker served (gateway-workers.ts): its span is made now, back-dated to when
   * the request came in.
   */
  function replay(request: GatewayRecord): void {
    if (!telemetry.enabled) return;
    const now = Date.now();
    const span = tracer.startSpan(
      request.operation,
      { kind: SpanKind.SERVER, startTime: now - request.durationS * 1000 },
      contextOfTraceparent(request.traceparent),
    );
    record(request, span);
    span.end(now);
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
    replay,
    /** The counters, then the GenAI histograms, in the Prometheus text format. */
    async text(): Promise<string> {
      const otel = await telemetry.prometheusText();
      return `${await registry.metrics()}${otel ? `${otel}\n` : ''}`;
    },
  };
}
