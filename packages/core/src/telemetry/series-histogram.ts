import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type HistogramMetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

/** One attribute set of a histogram: recording into it is a bucket search and four additions. */
export interface HistogramSeries {
  record(value: number): void;
}

/**
 * An explicit-bucket histogram whose attribute sets are resolved once per series, by a key the caller builds from
 * the few strings that vary (`chat\0legal-answerer\0…`), instead of hashing the attribute object on every record
 * as the SDK's instruments do (sorting its keys and serialising them: 60 % of the gateway's telemetry CPU, see
 * docs/decisions/2026-12-05-gateway-telemetry-cost.md). The points reach the same readers as the SDK's
 * instruments (the Prometheus exporter behind `/metrics`, the OTLP exporter) through a MetricProducer, with the
 * SDK's cumulative semantics: inclusive upper bounds, sum, count, min and max since the series was created.
 */
export interface SeriesHistogram {
  /** The series for `key`; `attributes` builds its attribute set when the key is new. */
  series(key: string, attributes: () => Attributes): HistogramSeries;
  /** Records with an attribute object (the slow path: the key is the attributes, sorted and serialised). */
  record(value: number, attributes?: Attributes): void;
}

/** Now, as OpenTelemetry's [seconds, nanoseconds]. */
function hrTime(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}

/** Series per histogram beyond which points go to one `otel.metric.overflow` series (the SDK's default limit). */
const CARDINALITY_LIMIT = 2000;

class Series implements HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  readonly startTime: HrTime = hrTime();

  constructor(
    readonly attributes: Attributes,
    private readonly boundaries: readonly number[],
  ) {
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
  }

  record(value: number): void {
    if (!Number.isFinite(value)) return;
    const { boundaries } = this;
    let bucket = 0;
    while (bucket < boundaries.length && value > boundaries[bucket]!) bucket += 1;
    this.counts[bucket]! += 1;
    this.sum += value;
    this.count += 1;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
}

interface Descriptor {
  name: string;
  unit: string;
  description: string;
  boundaries: number[];
}

/** The histograms of one telemetry, and the MetricProducer its metric readers collect them through. */
export function createSeriesHistograms(resource: Resource, scope: { name: string }) {
  const histograms: { descriptor: Descriptor; series: Map<string, Series> }[] = [];

  function histogram(descriptor: Descriptor): SeriesHistogram {
    const series = new Map<string, Series>();
    histograms.push({ descriptor, series });
    const get = (key: string, attributes: () => Attributes): Series => {
      let found = series.get(key);
      if (found) return found;
      if (series.size >= CARDINALITY_LIMIT) {
        found = series.get('\0overflow');
        if (!found) {
          found = new Series({ 'otel.metric.overflow': true }, descriptor.boundaries);
          series.set('\0overflow', found);
        }
        return found;
      }
      found = new Series(attributes(), descriptor.boundaries);
      series.set(key, found);
      return found;
    };
    return {
      series: get,
      record(value, attributes = {}) {
        const key = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)));
        get(`\0attributes${key}`, () => ({ ...attributes })).record(value);
      },
    };
  }

  const producer: MetricProducer = {
    async collect(): Promise<CollectionResult> {
      const endTime = hrTime();
      const metrics: HistogramMetricData[] = [];
      for (const { descriptor, series } of histograms) {
        if (series.size === 0) continue;
        metrics.push({
          descriptor: {
            name: descriptor.name,
            unit: descriptor.unit,
            description: descriptor.description,
            valueType: ValueType.DOUBLE,
          },
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: [...series.values()].map((point) => ({
            attributes: point.attributes,
            startTime: point.startTime,
            endTime,
            value: {
              buckets: { boundaries: descriptor.boundaries, counts: [...point.counts] },
              sum: point.sum,
              count: point.count,
              ...(point.count > 0 ? { min: point.min, max: point.max } : {}),
            },
          })),
        });
      }
      return {
        // (A reader keeps the SDK's resource, the same one.)
        resourceMetrics: { resource, scopeMetrics: [{ scope, metrics }] },
        errors: [],
      };
    },
  };

  return { histogram, producer };
}
