import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ApprovalCard, type Decision } from '../components/approval-card.tsx';
import { Link } from '../components/link.tsx';
import { OutcomeBadge } from '../components/outcome-badge.tsx';
import { QueryState } from './query-state.tsx';

/** One approval request at its own URL (`/approvals/ID`), pending or decided, with Approve / Deny while pending. */
export function ApprovalPage({ client, id }: { client: Client; id: string }) {
  const [decision, setDecision] = useState<Decision | null>(null);
  const me = useQuery({ queryKey: ['whoami'], queryFn: () => client.whoami() });
  // The API lists approvals (of every status) rather than getting one: find this one among them.
  const approvals = useQuery({
    queryKey: ['approvals', 'all'],
    queryFn: () => client.approvals.list(),
    refetchInterval: 5000,
  });
  return (
    <section data-testid="approval-page">
      <p className="crumbs">
        <Link href="/approvals">Approvals</Link> / <code>{id}</code>
      </p>
      <h1>Approval request</h1>
      <QueryState query={approvals}>
        {(data) => {
          const approval = data.items.find((item) => item.id === id);
          if (!approval)
            return (
              <p role="alert" className="error">
                No approval request {id} in your teams.
              </p>
            );
          return (
            <>
              {decision && (
                <p className="result" data-testid="approval-result">
                  Decided: the job is{' '}
                  {decision.admission ? <OutcomeBadge outcome={decision.admission.outcome} /> : 'rejected'}.
                </p>
              )}
              <ApprovalCard
                client={client}
                approval={approval}
                me={me.data?.user.name ?? null}
                onDecided={setDecision}
              />
            </>
          );
        }}
      </QueryState>
    </section>
  );
}
