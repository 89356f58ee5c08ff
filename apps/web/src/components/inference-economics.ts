import type { EndpointStats, LedgerRow } from '@aicloud/contracts';

/** What an endpoint cost and what that makes per 1k tokens and per request; null where it cannot be computed. */
export interface InferenceEconomics {
  /** USD in the ledger rows: replica hours and metered tokens. */
  cost: number;
  /** Metered tokens (in and out) in the same rows. */
  tokens: number;
  /** The oldest row's window start: where the figures begin. */
  from: string | null;
  perThousandTokens: number | null;
  /** Mean tokens per request, from the live stats (the ledger does not count requests). */
  tokensPerRequest: number | null;
  /** Cost per token × mean tokens per request: an estimate, since requests are not in the ledger. */
  perRequest: number | null;
}

/** The inference economics of an endpoint from its usage ledger rows and its live stats. */
export function inferenceEconomics(
  rows: LedgerRow[],
  stats: Pick<EndpointStats, 'requests' | 'tokensIn' | 'tokensOut'>,
): InferenceEconomics {
  let costMicros = 0;
  let tokens = 0;
  let from: string | null = null;
  for (const row of rows) {
    costMicros += row.costMicros;
    if (row.unit === 'token') tokens += row.quantity;
    if (from === null || row.windowStart < from) from = row.windowStart;
  }
  const cost = costMicros / 1_000_000;
  const perThousandTokens = tokens > 0 ? (cost / tokens) * 1000 : null;
  const tokensPerRequest = stats.requests > 0 ? (stats.tokensIn + stats.tokensOut) / stats.requests : null;
  const perRequest =
    perThousandTokens !== null && tokensPerRequest !== null
      ? (perThousandTokens / 1000) * tokensPerRequest
      : null;
  return { cost, tokens, from, perThousandTokens, tokensPerRequest, perRequest };
}
