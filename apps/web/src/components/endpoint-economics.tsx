import type { Client } from '@aicloud/client';
import type { Endpoint } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { QueryState } from '../pages/query-state.tsx';
import { time, usd } from './format.ts';
import { inferenceEconomics } from './inference-economics.ts';

/** A small amount of dollars in 3 significant digits: `$0.000412`, `$1.25`. */
export function usdFine(amount: number): string {
  return `$${amount.toLocaleString('en-US', { maximumSignificantDigits: 3 })}`;
}

const WINDOW = '30d';
const ROW_LIMIT = 1000;

/**
 * The inference economics of an endpoint: what it cost (its replicas' hours and metered tokens, from the
 * usage ledger of the last 30 days), per 1k tokens, and per request as an estimate where the ledger has no
 * request count (cost per token × the live mean tokens per request).
 */
export function EndpointEconomics({ client, endpoint }: { client: Client; endpoint: Endpoint }) {
  const rows = useQuery({
    queryKey: ['endpoints', 'ledger', endpoint.id],
    queryFn: () =>
      client.bill.rows({ team: endpoint.team, sourceId: endpoint.id, since: WINDOW, limit: ROW_LIMIT }),
    refetchInterval: 60_000,
  });
  const { stats } = endpoint;
  return (
    <div data-testid="endpoint-economics">
      <h3>Inference economics</h3>
      <QueryState query={rows}>
        {(data) => {
          const { cost, tokens, from, perThousandTokens, tokensPerRequest, perRequest } = inferenceEconomics(
            data.items,
            stats,
          );
          const truncated = data.items.length >= ROW_LIMIT;
          return (
            <dl className="kv">
              <dt>Spend</dt>
              <dd data-testid="economics-spend">
                {usd(cost)} over {tokens} metered tokens{' '}
                <span className="muted small">
                  (usage ledger {from ? `since ${time(from)}` : `of the last ${WINDOW}`}
                  {truncated ? `, its latest ${ROW_LIMIT} rows` : ''})
                </span>
              </dd>
              <dt>Per 1k tokens</dt>
              <dd data-testid="economics-per-1k">
                {perThousandTokens === null ? 'n/a (no metered tokens yet)' : usdFine(perThousandTokens)}
              </dd>
              <dt>Per request</dt>
              <dd data-testid="economics-per-request">
                {perRequest === null || tokensPerRequest === null ? (
                  'n/a (no requests or no metered tokens yet)'
                ) : (
                  <>
                    ≈ {usdFine(perRequest)}{' '}
                    <span className="muted small">
                      (cost per token × {tokensPerRequest.toFixed(0)} tokens per request since the server
                      started; the ledger does not count requests)
                    </span>
                  </>
                )}
              </dd>
            </dl>
          );
        }}
      </QueryState>
    </div>
  );
}
