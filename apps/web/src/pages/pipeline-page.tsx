import type { Client } from '@aicloud/client';
import type { Pipeline } from '@aicloud/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '../components/api-errors.ts';
import { time } from '../components/format.ts';
import { Link } from '../components/link.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { PipelineDag } from '../components/pipeline-dag.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { paths } from '../use-route.ts';
import { progressOf } from './pipelines-page.tsx';
import { QueryState } from './query-state.tsx';

/** Cancel while it runs, retry once it failed or was cancelled (finished steps are kept). */
function Actions({ client, pipeline }: { client: Client; pipeline: Pipeline }) {
  const queryClient = useQueryClient();
  const action = useMutation({
    mutationFn: (verb: 'cancel' | 'retry') =>
      verb === 'cancel' ? client.pipelines.cancel(pipeline.id) : client.pipelines.retry(pipeline.id),
    onSuccess: (updated) => {
      queryClient.setQueryData(['pipelines', 'one', pipeline.id], updated);
      return queryClient.invalidateQueries({ queryKey: ['pipelines', 'list'] });
    },
  });
  const canRetry = pipeline.status === 'failed' || pipeline.status === 'cancelled';
  return (
    <div className="actions">
      {pipeline.status === 'running' && (
        <button
          type="button"
          className="danger"
          disabled={action.isPending}
          onClick={() => action.mutate('cancel')}
        >
          Cancel pipeline
        </button>
      )}
      {canRetry && (
        <button
          type="button"
          className="primary"
          disabled={action.isPending}
          onClick={() => action.mutate('retry')}
        >
          Retry unfinished steps
        </button>
      )}
      {action.isError && (
        <p role="alert" className="error">
          {errorMessage(action.error)}
        </p>
      )}
    </div>
  );
}

/** A pipeline at its own URL (`/pipelines/ID`): its DAG with each step's state, live while it runs. */
export function PipelinePage({ client, id }: { client: Client; id: string }) {
  const pipeline = useQuery({
    queryKey: ['pipelines', 'one', id],
    queryFn: () => client.pipelines.get(id),
    // Live while it runs, and while a step still runs after the pipeline failed (a sibling of the failed step).
    refetchInterval: (query) =>
      query.state.data &&
      query.state.data.status !== 'running' &&
      !query.state.data.steps.some((step) => step.status === 'running' || step.status === 'retrying')
        ? false
        : 2000,
  });
  return (
    <section data-testid="pipeline-page">
      <p className="crumbs">
        <Link href="/pipelines">Pipelines</Link> / <code>{id}</code>
      </p>
      <QueryState query={pipeline}>
        {(data) => (
          <>
            <h1>
              {data.name} <StatusBadge status={data.status} />
            </h1>
            <p className="muted small">
              {progressOf(data)} · team {data.team} / {data.owner} · created {time(data.createdAt)}
              {data.endedAt ? `, ended ${time(data.endedAt)}` : ' · refreshes every 2 s'}
            </p>
            {data.reason && <p className="warning">{data.reason}</p>}
            <Actions client={client} pipeline={data} />
            <section className="panel" aria-label="DAG">
              <h2>Steps</h2>
              <PipelineDag pipeline={data} />
            </section>
            <section className="panel" aria-label="Step details">
              <ResponsiveTable>
                <table data-testid="pipeline-steps">
                  <thead>
                    <tr>
                      <th>Step</th>
                      <th>State</th>
                      <th>Attempt</th>
                      <th>Jobs</th>
                      <th>Product</th>
                      <th>Cache</th>
                      <th>Output</th>
                      <th>Reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.steps.map((step) => (
                      <tr key={step.name}>
                        <td>{step.name}</td>
                        <td>
                          <StatusBadge status={step.status} />
                        </td>
                        <td>
                          {step.attempt} / {step.spec.retries + 1}
                        </td>
                        <td>
                          {step.jobIds.length === 0
                            ? '—'
                            : step.jobIds.map((jobId) => (
                                <Link key={jobId} href={paths.job(jobId)} className="id-link">
                                  {jobId}{' '}
                                </Link>
                              ))}
                        </td>
                        <td>{step.spec.product}</td>
                        <td>{step.spec.cache ? (step.status === 'cached' ? 'hit' : 'on') : 'off'}</td>
                        <td>{step.outputHash ? <code>{step.outputHash.slice(0, 12)}</code> : '—'}</td>
                        <td className="wrap-text">
                          {step.reason ?? (step.nextAttemptAt ? `next try ${time(step.nextAttemptAt)}` : '—')}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </ResponsiveTable>
            </section>
          </>
        )}
      </QueryState>
    </section>
  );
}
