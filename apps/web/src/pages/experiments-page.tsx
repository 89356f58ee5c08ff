import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { epochTime } from '../components/format.ts';
import { Link, rowLink } from '../components/link.tsx';
import { mlflowApi, teamOf } from '../components/mlflow-api.ts';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

/** The MLflow experiments of your teams (every job is a run in one); a row opens its runs. */
export function ExperimentsPage({ client }: { client: Client }) {
  const mlflow = useMemo(() => mlflowApi(client), [client]);
  const experiments = useQuery({
    queryKey: ['experiments', 'list'],
    queryFn: () => mlflow.experiments(),
    refetchInterval: 10_000,
  });
  return (
    <section>
      <h1>Experiments</h1>
      <p className="muted small">
        MLflow-compatible tracking: point any MLflow client at this server (<code>MLFLOW_TRACKING_URI</code>,
        <code>MLFLOW_TRACKING_TOKEN</code>); every job is a run too.
      </p>
      <QueryState query={experiments}>
        {(data) =>
          data.length === 0 ? (
            <p className="muted" data-testid="experiments-empty">
              No experiments yet: a job's run, or an MLflow client, creates one.
            </p>
          ) : (
            <ResponsiveTable>
              <table className="clickable" data-testid="experiments-table">
                <thead>
                  <tr>
                    <th>Experiment</th>
                    <th>Team</th>
                    <th>Id</th>
                    <th>Created</th>
                    <th>Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {data.map((experiment) => (
                    <tr
                      key={experiment.experiment_id}
                      data-testid={`experiment-row-${experiment.name}`}
                      {...rowLink(paths.experiment(experiment.experiment_id))}
                    >
                      <td>
                        <Link href={paths.experiment(experiment.experiment_id)} className="id-link">
                          {experiment.name}
                        </Link>
                      </td>
                      <td>{teamOf(experiment) ?? '—'}</td>
                      <td>
                        <code>{experiment.experiment_id}</code>
                      </td>
                      <td>{epochTime(experiment.creation_time)}</td>
                      <td>{epochTime(experiment.last_update_time)}</td>
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
