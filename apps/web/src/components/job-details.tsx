import type { Client } from '@aicloud/client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { QueryState } from '../pages/query-state.tsx';
import { paths } from '../use-route.ts';
import { errorMessage } from './api-errors.ts';
import { duration, finalStatuses, gpuText, time, usd } from './format.ts';
import { Link } from './link.tsx';
import { StatusBadge } from './outcome-badge.tsx';
import { ReasonsTable } from './reasons-table.tsx';

/**
 * One job in full: what it asked for, where it is and why, and a Cancel button while it can still stop.
 * As a panel on another page (`onClose`), it links to the job's own page (logs and metrics).
 */
export function JobDetails({ client, id, onClose }: { client: Client; id: string; onClose?: () => void }) {
  const queryClient = useQueryClient();
  const job = useQuery({
    queryKey: ['jobs', 'one', id],
    queryFn: () => client.jobs.get(id),
    refetchInterval: 5000,
  });
  const cancel = useMutation({
    mutationFn: () => client.jobs.cancel(id),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['jobs'] }),
  });
  return (
    <aside className="panel" aria-label={`Job ${id}`} data-testid="job-details">
      <header className="card-head">
        <h2>
          Job <code>{id}</code>
        </h2>
        {onClose && (
          <div className="actions">
            <Link href={paths.job(id)}>Logs and metrics</Link>
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
        )}
      </header>
      <QueryState query={job}>
        {(data) => (
          <>
            <dl className="kv">
              <dt>Name</dt>
              <dd>{data.name}</dd>
              <dt>Status</dt>
              <dd>
                <StatusBadge status={data.status} />
                {data.queuePosition !== null ? ` position ${data.queuePosition} in the queue` : ''}
                {data.exitCode !== null ? ` (exit code ${data.exitCode})` : ''}
              </dd>
              <dt>Team / owner</dt>
              <dd>
                {data.team} / {data.owner}
              </dd>
              <dt>Product</dt>
              <dd>
                {data.product} ({data.kind}), {data.executor} executor
              </dd>
              <dt>GPUs</dt>
              <dd>
                {gpuText(data.gpus, data.gpuType)}
                {data.spot ? ', spot' : ', on-demand'}
                {data.gpuIndexes.length > 0
                  ? ` — indexes ${data.gpuIndexes.join(', ')} (${data.gpuSource})`
                  : ''}
              </dd>
              <dt>Max runtime</dt>
              <dd>{duration(data.maxRuntimeSeconds)}</dd>
              <dt>Cost</dt>
              <dd>
                {usd(data.cost)} so far; estimated at most {usd(data.estimatedCost)}, {usd(data.reservedCost)}{' '}
                reserved
              </dd>
              <dt>Datasets</dt>
              <dd>{data.datasets.length > 0 ? data.datasets.join(', ') : '—'}</dd>
              {data.secrets.length > 0 && (
                <>
                  <dt>Secrets</dt>
                  <dd>{data.secrets.join(', ')}</dd>
                </>
              )}
              <dt>Command</dt>
              <dd>
                <code>{data.command}</code>
              </dd>
              {data.approvalId && (
                <>
                  <dt>Approval</dt>
                  <dd>
                    <Link href={paths.approval(data.approvalId)}>
                      <code>{data.approvalId}</code>
                    </Link>
                  </dd>
                </>
              )}
              <dt>Times (UTC)</dt>
              <dd>
                created {time(data.createdAt)}, admitted {time(data.admittedAt)}, started{' '}
                {time(data.startedAt)}, ended {time(data.endedAt)}
              </dd>
            </dl>
            {data.reasons.length > 0 ? (
              <>
                <h3>Reasons</h3>
                <ReasonsTable reasons={data.reasons} testId="job-reasons" />
              </>
            ) : (
              <p className="muted">No reasons: nothing holds this job.</p>
            )}
            {!finalStatuses.includes(data.status) && (
              <div className="actions">
                <button
                  type="button"
                  className="danger"
                  disabled={cancel.isPending}
                  onClick={() => cancel.mutate()}
                >
                  {cancel.isPending ? 'Cancelling…' : 'Cancel job'}
                </button>
              </div>
            )}
            {cancel.isError && (
              <p role="alert" className="error">
                {errorMessage(cancel.error)}
              </p>
            )}
          </>
        )}
      </QueryState>
    </aside>
  );
}
