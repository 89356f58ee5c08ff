import { createNoopMeter, type Meter, ProxyTracerProvider, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { AppError } from '../app-error.ts';
import { createSeriesHistograms, type SeriesHistogram } from './series-histogram.ts';
import { traceparentOf } from './traceparent.ts';

/** How the platform's OpenTelemetry runs. */
export interface TelemetryOptions {
  /**
   * An OTLP/HTTP collector's base URL (`http://collector:4318`): metrics go to `/v1/metrics`, traces to
   * `/v1/traces`. Without it nothing leaves the process; `/metrics` serves the metrics either way.
   */
  otlpEndpoint?: string | undefined;
  /** Off: no-op meter and tracer, nothing recorded (the gateway bench's baseline). Default on. */
  enabled?: boolean | undefined;
  /** Between two OTLP metric exports (default 15 s). */
  exportIntervalMs?: number | undefined;
}

/** One platform's OpenTelemetry: its own meter and tracer providers, never the process-global ones. */
export interface Telemetry {
  enabled: boolean;
  meter: Meter;
  tracer: Tracer;
  /**
   * An explicit-bucket histogram recorded per series (an attribute set resolved once per key), for the gateway's
   * per-request instruments; exported beside the meter's instruments, to the same readers.
   */
  histogram(name: string, unit: string, description: string, boundaries: number[]): SeriesHistogram;
  /** The OpenTelemetry metrics in the Prometheus text format (what `/metrics` serves beside prom-client's). */
  prometheusText(): Promise<string>;
  /** Remembers the trace a job's submission belongs to, for the job's `TRACEPARENT` when it starts. */
  rememberJobTrace(jobId: string, span: Span): void;
  /** The `traceparent` of a job's submit span, if this process saw the submission. */
  jobTraceparent(jobId: string): string | undefined;
  /** Exports what is pending and stops the providers. */
  shutdown(): Promise<void>;
}

const NO_SERIES = { record() {} };
const NO_HISTOGRAM: SeriesHistogram = { series: () => NO_SERIES, record() {} };

/** Job traces kept in memory until their jobs start; the oldest are forgotten beyond this many. */
const MAX_JOB_TRACES = 10_000;

/** Creates the platform's telemetry: a Prometheus reader always, OTLP/HTTP exporters when an endpoint is set. */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  const jobTraces = new Map<string, string>();
  const jobTelemetry = {
    rememberJobTrace(jobId: string, span: Span) {
      const traceparent = traceparentOf(span);
      if (!traceparent) return;
      if (jobTraces.size >= MAX_JOB_TRACES) jobTraces.delete(jobTraces.keys().next().value!);
      jobTraces.set(jobId, traceparent);
    },
    jobTraceparent: (jobId: string) => jobTraces.get(jobId),
  };
  if (options.enabled === false) {
    return {
      enabled: false,
      meter: createNoopMeter(),
      histogram: () => NO_HISTOGRAM,
      // A provider with no delegate: the API's no-op tracer, whose spans cost nothing.
      tracer: new ProxyTracerProvider().getTracer('aicloud'),
      prometheusText: async () => '',
      ...jobTelemetry,
      async shutdown() {},
    };
  }
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'aicloud' });
  const histograms = createSeriesHistograms(resource, { name: 'aicloud' });
  const metricProducers = [histograms.producer];
  const prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers });
  const serializer = new PrometheusSerializer();
  const readers: MetricReader[] = [prometheus];
  const endpoint = otlpBase(options.otlpEndpoint);
  if (endpoint)
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
        exportIntervalMillis: options.exportIntervalMs ?? 15_000,
        metricProducers,
      }),
    );
  const meterProvider = new MeterProvider({ resource, readers });
  const tracerProvider = new BasicTracerProvider({
    resource,
    // Without a collector spans still carry trace ids (for TRACEPARENT) but record nothing: they cost little.
    ...(endpoint
      ? { spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))] }
      : { sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }) }),
  });
  return {
    enabled: true,
    meter: meterProvider.getMeter('aicloud'),
    tracer: tracerProvider.getTracer('aicloud'),
    histogram: (name, unit, description, boundaries) =>
      histograms.histogram({ name, unit, description, boundaries }),
    async prometheusText() {
      const { resourceMetrics } = await prometheus.collect();
      return serializer.serialize(resourceMetrics);
    },
    ...jobTelemetry,
    async shutdown() {
      await tracerProvider.shutdown().catch(() => {});
      await meterProvider.shutdown().catch(() => {});
    },
  };
}

/** The collector's base URL without a trailing slash; anything but an http(s) URL is the caller's mistake. */
function otlpBase(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new AppError(
      'invalid_input',
      `--otlp-endpoint must be an http(s) URL such as http://collector:4318, got '${endpoint}'`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError(
      'invalid_input',
      `--otlp-endpoint must be an http(s) URL such as http://collector:4318, got '${endpoint}'`,
    );
  return url.href.replace(/\/+$/, '');
}
