import type { Client } from '@aicloud/client';
import type { Approval } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ApprovalCard, type Decision } from '../components/approval-card.tsx';
import { OutcomeBadge, StatusBadge } from '../components/outcome-badge.tsx';
import { ReasonsTable } from '../components/reasons-table.tsx';
import { QueryState } from './query-state.tsx';

const statuses: Approval['status'][] = ['pending', 'approved', 'denied', 'expired'];

function DecisionResult({ decision }: { decision: Decision }) {
  const { approval, admission } = decision;
  return (
    <div className="result" data-testid="approval-result">
      <p>
        <StatusBadge status={approval.status} /> <code>{approval.id}</code> for job{' '}
        <code>{approval.jobId}</code>
        {admission ? (
          <>
            {' '}
            — the job is now <OutcomeBadge outcome={admission.outcome} />
            {admission.outcome === 'queued' && admission.queuePosition !== null
              ? ` at position ${admission.queuePosition}`
              : ''}
          </>
        ) : (
          ' — the job is rejected.'
        )}
      </p>
      {admission && <ReasonsTable reasons={admission.reasons} />}
    </div>
  );
}

/** The approvals inbox of your teams: held jobs waiting for a manager. */
export function ApprovalsPage({ client }: { client: Client }) {
  const [status, setStatus] = useState<Approval['status'] | ''>('pending');
  const [decisions, setDecisions] = useState<Decision[]>([]);
  const me = useQuery({ queryKey: ['whoami'], queryFn: () => client.whoami() });
  const approvals = useQuery({
    queryKey: ['approvals', status],
    queryFn: () => client.approvals.list(status || undefined),
    refetchInterval: 5000,
  });
  return (
    <section>
      <h1>Approvals</h1>
      <div className="filters">
        <label htmlFor="approvals-status">Status</label>
        <select
          id="approvals-status"
          value={status}
          onChange={(event) => setStatus(event.target.value as Approval['status'] | '')}
        >
          {statuses.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
          <option value="">all</option>
        </select>
      </div>
      {decisions.length > 0 && (
        <div className="decisions">
          <h2>Decided just now</h2>
          {decisions.map((decision) => (
            <DecisionResult key={decision.approval.id} decision={decision} />
          ))}
        </div>
      )}
      <QueryState query={approvals}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted" data-testid="approvals-empty">
              Nothing {status ? `${status} ` : ''}in your teams.
            </p>
          ) : (
            <div className="stack">
              {data.items.map((approval) => (
                <ApprovalCard
                  key={approval.id}
                  client={client}
                  approval={approval}
                  me={me.data?.user.name ?? null}
                  onDecided={(decision) =>
                    setDecisions((previous) => [
                      decision,
                      ...previous.filter((item) => item.approval.id !== decision.approval.id),
                    ])
                  }
                />
              ))}
            </div>
          )
        }
      </QueryState>
    </section>
  );
}
