import type { Client } from '@aicloud/client';
import type { Admission, Approval } from '@aicloud/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { paths } from '../use-route.ts';
import { errorMessage } from './api-errors.ts';
import { duration, gpuText, time, usd } from './format.ts';
import { Link } from './link.tsx';
import { StatusBadge } from './outcome-badge.tsx';
import { ReasonsTable } from './reasons-table.tsx';

/** What a decision answered: the approval and, once approved, the job's admission. */
export interface Decision {
  approval: Approval;
  admission: Admission | null;
}

/** One approval request with the held job, and (while pending) Approve / Deny. */
export function ApprovalCard({
  client,
  approval,
  me,
  onDecided,
}: {
  client: Client;
  approval: Approval;
  me: string | null;
  onDecided: (decision: Decision) => void;
}) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const job = useQuery({
    queryKey: ['jobs', 'one', approval.jobId],
    queryFn: () => client.jobs.get(approval.jobId),
  });
  const decide = useMutation({
    mutationFn: async (verdict: 'approve' | 'deny'): Promise<Decision> => {
      const why = reason.trim() || undefined;
      if (verdict === 'approve') return client.approvals.approve(approval.id, why);
      return { approval: await client.approvals.deny(approval.id, why), admission: null };
    },
    onSuccess: async (decision) => {
      onDecided(decision);
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ['approvals'] }),
        queryClient.invalidateQueries({ queryKey: ['jobs'] }),
      ]);
    },
  });
  const ownRequest = me === approval.requestedBy;
  const reasonId = `reason-${approval.id}`;
  return (
    <article className="card" data-testid={`approval-${approval.id}`} aria-label={`Approval ${approval.id}`}>
      <header className="card-head">
        <h2>
          {approval.requestedBy} asks to run{' '}
          <Link href={paths.job(approval.jobId)}>
            <code>{approval.jobId}</code>
          </Link>
        </h2>
        <StatusBadge status={approval.status} />
      </header>
      <dl className="kv">
        <dt>Request</dt>
        <dd>
          <Link href={paths.approval(approval.id)} data-testid="approval-link">
            <code>{approval.id}</code>
          </Link>
        </dd>
        <dt>Team</dt>
        <dd>{approval.team}</dd>
        <dt>Rules</dt>
        <dd>{approval.rules.join(', ')}</dd>
        <dt>Approvers</dt>
        <dd>{approval.approvers.join(', ') || 'none set'}</dd>
        <dt>Requested (UTC)</dt>
        <dd>
          {time(approval.createdAt)}, expires {time(approval.expiresAt)}
        </dd>
        {approval.decidedBy && (
          <>
            <dt>Decided</dt>
            <dd>
              by {approval.decidedBy} at {time(approval.decidedAt)}
              {approval.reason ? `: ${approval.reason}` : ''}
            </dd>
          </>
        )}
        {job.data && (
          <>
            <dt>Job</dt>
            <dd data-testid="approval-job">
              {job.data.name}: {job.data.product}, {gpuText(job.data.gpus, job.data.gpuType)}
              {job.data.spot ? ' (spot)' : ''}, up to {duration(job.data.maxRuntimeSeconds)}, estimated at
              most {usd(job.data.estimatedCost)}; status <StatusBadge status={job.data.status} />
            </dd>
            <dt>Datasets</dt>
            <dd>{job.data.datasets.join(', ') || '—'}</dd>
            <dt>Command</dt>
            <dd>
              <code>{job.data.command}</code>
            </dd>
          </>
        )}
      </dl>
      {job.isError && (
        <p role="alert" className="error">
          {errorMessage(job.error)}
        </p>
      )}
      {job.data && <ReasonsTable reasons={job.data.reasons} />}
      {approval.status === 'pending' &&
        (ownRequest ? (
          <p className="muted">
            Your own request: {approval.approvers.join(' or ') || 'a manager of the team'} decides it.
          </p>
        ) : (
          <div className="actions">
            <label htmlFor={reasonId}>Reason (optional)</label>
            <input
              id={reasonId}
              value={reason}
              placeholder="why, for the audit trail"
              onChange={(event) => setReason(event.target.value)}
            />
            <button
              type="button"
              className="primary"
              disabled={decide.isPending}
              onClick={() => decide.mutate('approve')}
            >
              Approve
            </button>
            <button
              type="button"
              className="danger"
              disabled={decide.isPending}
              onClick={() => decide.mutate('deny')}
            >
              Deny
            </button>
          </div>
        ))}
      {decide.isError && (
        <p role="alert" className="error">
          {errorMessage(decide.error)}
        </p>
      )}
    </article>
  );
}
