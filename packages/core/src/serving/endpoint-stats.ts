import type { EndpointStats } from '@aicloud/contracts';
import { DriftMonitor } from '../telemetry/drift.ts';

const WINDOW = 2048;

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
  /** Drift of the successful requests against this endpoint's first ones (a new version resets it). */
  readonly drift = new DriftMonitor();

  /** Records one finished request. */
  record(outcome: {
    ok: boolean;
    latencyMs: number;
    firstTokenMs: number | null;
    tokensIn: number;
    tokensOut: number;
  }): void {
    this.requests += 1;
    if (!outcome.ok) this.errors += 1;
    this.tokensIn += outcome.tokensIn;
    this.tokensOut += outcome.tokensOut;
    push(this.latencies, outcome.latencyMs);
    if (outcome.firstTokenMs !== null) push(this.firstToken, outcome.firstTokenMs);
    if (outcome.tokensOut > 0 && outcome.latencyMs > 0)
      push(this.outputRates, outcome.tokensOut / (outcome.latencyMs / 1000));
    if (outcome.ok)
      this.drift.observe({
        prompt_tokens: outcome.tokensIn,
        completion_tokens: outcome.tokensOut,
        latency_ms: outcome.latencyMs,
        empty_answer: outcome.tokensOut === 0 ? 1 : 0,
      });
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
