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
  private latencies: number[] = [];
  private firstToken: number[] = [];
  private outputRates: number[] = [];
  /** The last requests with their time (ms since the epoch), for a canary analysis over a window. */
  private recent: { at: number; ok: boolean; latencyMs: number }[] = [];
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
      this.recent.push({ at: outcome.at, ok: outcome.ok, latencyMs: outcome.latencyMs });
      if (this.recent.length > RECENT) this.recent.splice(0, this.recent.length - RECENT);
    }
    if (!outcome.ok) this.errors += 1;
    this.tokensIn += outcome.tokensIn;
    this.tokensOut += outcome.tokensOut;
    push(this.latencies, outcome.latencyMs);
    if (outcome.firstTokenMs !== null) push(this.firstToken, outcome.firstTokenMs);
    if (outcome.tokensOut > 0 && outcome.latencyMs > 0)
      push(this.outputRates, outcome.tokensOut / (outcome.latencyMs / 1000));
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
    let first = this.recent.length;
    while (first > 0 && this.recent[first - 1]!.at >= since) first -= 1;
    const slice = this.recent.slice(first);
    const errors = slice.filter((request) => !request.ok).length;
    return {
      requests: slice.length,
      errors,
      errorRate: slice.length ? Math.round((errors / slice.length) * 10_000) / 10_000 : null,
      latencyP99Ms: percentile(
        slice.map((request) => request.latencyMs),
        99,
      ),
    };
  }

  /** The numbers as the API shows them. */
  snapshot(): EndpointStats {
    return {
      requests: this.requests,
      errors: this.errors,
      latencyP50Ms: percentile(this.latencies, 50),
      latencyP99Ms: percentile(this.latencies, 99),
      timeToFirstTokenP50Ms: percentile(this.firstToken, 50),
      tokensPerSecond: percentile(this.outputRates, 50),
      tokensIn: this.tokensIn,
      tokensOut: this.tokensOut,
      coldStarts: this.coldStarts,
      lastColdStartMs: this.lastColdStartMs,
      inFlight: this.inFlight,
      drift: this.drift.report(),
    };
  }
}

function push(values: number[], value: number): void {
  values.push(value);
  if (values.length > WINDOW) values.shift();
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100;
}
