import type { Client } from '@aicloud/client';
import type { Pipeline } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { time } from '../components/format.ts';
import { Link, rowLink } from '../components/link.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

/** `2/4 done`: steps that succeeded or came from the cache, out of all. */
export function progressOf(pipeline: Pipeline): string {
  const done = pipeline.steps.filter(
    (step) => step.status === 'succeeded' || step.status === 'cached',
  ).length;
  return `${done}/${pipeline.steps.length} done`;
}

/** The pipelines of your teams, refreshed every 5 s while any runs; a row opens its DAG. */
export function PipelinesPage({ client }: { client: Client }) {
  const pipelines = useQuery({
    queryKey: ['pipelines', 'list'],
    queryFn: () => client.pipelines.list(),
    refetchInterval: (query) =>
      query.state.data?.items.some(
        (pipeline) =>
          pipeline.status === 'running' ||
          pipeline.steps.some((step) => step.status === 'running' || step.status === 'retrying'),
      )
        ? 5000
        : 15_000,
  });
  return (
    <section>
      <h1>Pipelines</h1>
      <p className="muted small">
        Submit one with <code>aicloud pipelines run file.py</code>; each step runs as an ordinary job.
      </p>
      <QueryState query={pipelines}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted" data-testid="pipelines-empty">
              No pipelines yet.
            </p>
          ) : (
            <ResponsiveTable>
              <table className="clickable" data-testid="pipelines-table">
                <thead>
                  <tr>
                    <th>Pipeline</th>
                    <th>Status</th>
                    <th>Steps</th>
                    <th>Team / owner</th>
                    <th>Created</th>
                    <th>Ended</th>
                    <th>Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((pipeline) => (
                    <tr
                      key={pipeline.id}
                      data-testid={`pipeline-row-${pipeline.name}`}
                      {...rowLink(paths.pipeline(pipeline.id))}
                    >
                      <td>
                        <Link href={paths.pipeline(pipeline.id)} className="id-link">
                          {pipeline.name}
                        </Link>{' '}
                        <code className="muted small">{pipeline.id}</code>
                      </td>
                      <td>
                        <StatusBadge status={pipeline.status} />
                      </td>
                      <td>{progressOf(pipeline)}</td>
                      <td>
                        {pipeline.team} <span className="muted">/ {pipeline.owner}</span>
                      </td>
                      <td>{time(pipeline.createdAt)}</td>
                      <td>{time(pipeline.endedAt)}</td>
                      <td className="wrap-text">{pipeline.reason ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ResponsiveTable>
          )
        }
      </QueryState>
    </section>
  );
}
