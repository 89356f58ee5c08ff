import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { duration, gpuText, time, usd } from '../components/format.ts';
import { Link } from '../components/link.tsx';
import { type ActionMessage, NotebookActions } from '../components/notebook-actions.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { QueryState } from './query-state.tsx';

/**
 * A notebook at its own URL (`/notebook/ID`; `/notebooks/ID/…` is the notebook itself, behind the
 * platform's proxy): its state, limits and cost, with Open, Snooze and Stop.
 */
export function NotebookPage({ client, id }: { client: Client; id: string }) {
  const [message, setMessage] = useState<ActionMessage | null>(null);
  const notebook = useQuery({
    queryKey: ['notebooks', 'one', id],
    queryFn: () => client.notebooks.get(id),
    refetchInterval: 5000,
  });
  return (
    <section data-testid="notebook-page">
      <p className="crumbs">
        <Link href="/notebooks">Notebooks</Link> / <code>{id}</code>
      </p>
      <QueryState query={notebook}>
        {(data) => (
          <>
            <h1>
              {data.name} <StatusBadge status={data.status} />
            </h1>
            <div className="panel" data-testid="notebook-details">
              <dl className="kv">
                <dt>Team / owner</dt>
                <dd>
                  {data.team} / {data.owner}
                </dd>
                <dt>Product</dt>
                <dd>
                  {data.product}, {gpuText(data.gpus, data.gpuType)}, egress {data.egress}
                </dd>
                <dt>Started</dt>
                <dd>{time(data.startedAt)} (UTC)</dd>
                <dt>Last activity</dt>
                <dd>{time(data.lastActivityAt)}</dd>
                <dt>Idle stop</dt>
                <dd>
                  after {duration(data.idleTimeoutSeconds)} idle
                  {data.idleDeadline ? `, at ${time(data.idleDeadline)}` : ''}
                  {data.snoozedUntil ? ` (snoozed to ${time(data.snoozedUntil)})` : ''}
                </dd>
                <dt>Lifetime</dt>
                <dd>
                  at most {duration(data.maxLifetimeSeconds)}
                  {data.maxLifetimeAt ? `, until ${time(data.maxLifetimeAt)}` : ''}
                </dd>
                <dt>Cost</dt>
                <dd>
                  {usd(data.cost)} so far ({usd(data.pricePerHour)}/h, at most {usd(data.estimatedCost)})
                </dd>
                {data.stoppedAt && (
                  <>
                    <dt>Stopped</dt>
                    <dd>
                      {time(data.stoppedAt)}
                      {data.stopReason ? ` (${data.stopReason})` : ''}
                      {data.stopMessage ? `: ${data.stopMessage}` : ''}
                    </dd>
                  </>
                )}
              </dl>
              {data.warning && <p className="warning">{data.warning.message}</p>}
              <NotebookActions client={client} notebook={data} onMessage={setMessage} />
              {message && (
                <p role={message.error ? 'alert' : 'status'} className={message.error ? 'error' : 'muted'}>
                  {message.text}
                </p>
              )}
            </div>
          </>
        )}
      </QueryState>
    </section>
  );
}
