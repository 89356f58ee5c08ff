import type { EndpointStats, RolloutFigures } from '@aicloud/contracts';
import { DriftMonitor } from '../telemetry/drift.ts';

const WINDOW = 2048;
const RECENT = 10_000;

/** Live numbers of one endpoint: counters and the last requests' latencies. */
export class EndpointStatsRecorder {
  requests = 0;
  errors = 0;
  tokensIn = 0;
  tokensOut = 0;
  coldStarts = 0;
  lastColdStartMs: number | null = null;
  inFlight = 0;
  lastRequestAt = 0;
  private readonly latencies = new Ring(WINDOW);
  private readonly firstToken = new Ring(WINDOW);
  private readonly outputRates = new Ring(WINDOW);
  /**
   * The last requests, for a canary analysis over a window: when each finished (ms since the epoch), its
   * latency, and whether it failed (as 1). Rings, so that a full one costs no more per request than an empty one.
   */
  private readonly recentAt = new Ring(RECENT);
  private readonly recentLatency = new Ring(RECENT);
  private readonly recentFailed = new Ring(RECENT);
  /** Drift of the successful requests against this endpoint's first ones (a new version resets it). */
  readonly drift = new DriftMonitor();

  /** Records one finished request. */
  record(outcome: {
    ok: boolean;
    latencyMs: number;
    firstTokenMs: number | null;
    tokensIn: number;
    tokensOut: number;
    /** When it finished (ms since the epoch); omitted: not kept for window analysis. */
    at?: number;
    /** An embeddings answer's `data` as parsed (its first vector feeds drift; anything unusable is skipped). */
    embeddings?: unknown;
  }): void {
    this.requests += 1;
    if (outcome.at !== undefined) {
      this.recentAt.push(outcome.at);
      this.recentLatency.push(outcome.latencyMs);
      this.recentFailed.push(outcome.ok ? 0 : 1);
    }
    if (!outcome.ok) this.errors += 1;
    this.tokensIn += outcome.tokensIn;
    this.tokensOut += outcome.tokensOut;
    this.latencies.push(outcome.latencyMs);
    if (outcome.firstTokenMs !== null) this.firstToken.push(outcome.firstTokenMs);
    if (outcome.tokensOut > 0 && outcome.latencyMs > 0)
      this.outputRates.push(outcome.tokensOut / (outcome.latencyMs / 1000));
    if (outcome.ok)
      this.drift.observe(
        {
          prompt_tokens: outcome.tokensIn,
          completion_tokens: outcome.tokensOut,
          latency_ms: outcome.latencyMs,
          empty_answer: outcome.tokensOut === 0 ? 1 : 0,
        },
        outcome.embeddings,
      );
  }

  /** Requests, errors and p99 latency of the requests that finished at or after `since` (the last 10,000 at most). */
  window(since: number): RolloutFigures {
    // Newest first, back to the first request that finished before `since`.
    let requests = 0;
    while (requests < this.recentAt.length && this.recentAt.fromEnd(requests) >= since) requests += 1;
    const latencies: number[] = [];
    let errors = 0;
    for (let back = 0; back < requests; back += 1) {
      latencies.push(this.recentLatency.fromEnd(back));
      errors += this.recentFailed.fromEnd(back);
    }
    return {
      requests,
      errors,
      errorRate: requests ? Math.round((errors / requests) * 10_000) / 10_000 : null,
      latencyP99Ms: percentile(latencies, 99),
    };
  }

  /** The numbers as the API shows them. */
  snapshot(): EndpointStats {
    return {
      requests: this.requests,
      errors: this.errors,
      latencyP50Ms: percentile(this.latencies.values(), 50),
      latencyP99Ms: percentile(this.latencies.values(), 99),
      timeToFirstTokenP50Ms: percentile(this.firstToken.values(), 50),
      tokensPerSecond: percentile(this.outputRates.values(), 50),
      tokensIn: this.tokensIn,
      tokensOut: this.tokensOut,
      coldStarts: this.coldStarts,
      lastColdStartMs: this.lastColdStartMs,
      inFlight: this.inFlight,
      drift: this.drift.report(),
    };
  }
}

/** The last `capacity` numbers: a push overwrites the oldest once full. */
class Ring {
  private readonly items: Float64Array;
  /** Where the next push goes. */
  private next = 0;
  length = 0;

  constructor(private readonly capacity: number) {
    this.items = new Float64Array(capacity);
  }

  push(value: number): void {
    this.items[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.length < this.capacity) this.length += 1;
  }

  /** The value `back` pushes before the newest (0: the newest). */
  fromEnd(back: number): number {
    return this.items[(this.next - 1 - back + 2 * this.capacity) % this.capacity]!;
  }

  /** The values, in no particular order. */
  values(): number[] {
    return Array.from(this.items.subarray(0, this.length));
  }
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100;
}
