import type { LedgerRow } from '@aicloud/contracts';
import { describe, expect, it } from 'vitest';
import { inferenceEconomics } from './inference-economics.ts';

function row(fields: Partial<LedgerRow>): LedgerRow {
  return {
    id: 'use_1',
    team: 'legal-rag',
    user: 'alice',
    project: 'chat',
    category: 'inference',
    resource: 'cpu',
    quantity: 1,
    unit: 'instance_hour',
    rate: 0,
    cost: 0,
    costMicros: 0,
    sourceKind: 'endpoint',
    sourceId: 'ep_1',
    windowStart: '2026-12-01T00:00:00.000Z',
    windowEnd: '2026-12-01T01:00:00.000Z',
    ...fields,
  };
}

describe('inferenceEconomics', () => {
  it('divides the ledger cost by its metered tokens, and estimates per request from the live stats', () => {
    const economics = inferenceEconomics(
      [
        row({ costMicros: 2_000_000, windowStart: '2026-12-02T00:00:00.000Z' }),
        row({ unit: 'token', resource: 'tokens_in:chat', quantity: 3000 }),
        row({
          unit: 'token',
          resource: 'tokens_out:chat',
          quantity: 1000,
          windowStart: '2026-11-30T00:00:00.000Z',
        }),
      ],
      { requests: 10, tokensIn: 150, tokensOut: 50 },
    );
    expect(economics.cost).toBe(2);
    expect(economics.tokens).toBe(4000);
    expect(economics.from).toBe('2026-11-30T00:00:00.000Z');
    expect(economics.perThousandTokens).toBe(0.5);
    expect(economics.tokensPerRequest).toBe(20);
    expect(economics.perRequest).toBeCloseTo(0.01, 10);
  });

  it('says nothing it cannot compute: no tokens, no requests', () => {
    const economics = inferenceEconomics([row({ costMicros: 500_000 })], {
      requests: 0,
      tokensIn: 0,
      tokensOut: 0,
    });
    expect(economics.cost).toBe(0.5);
    expect(economics.perThousandTokens).toBeNull();
    expect(economics.tokensPerRequest).toBeNull();
    expect(economics.perRequest).toBeNull();
    expect(inferenceEconomics([], { requests: 3, tokensIn: 9, tokensOut: 0 }).from).toBeNull();
  });
});
