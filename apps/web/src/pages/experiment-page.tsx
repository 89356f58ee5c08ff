import { ApiError, type Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { epochTime } from '../components/format.ts';
import { Link } from '../components/link.tsx';
import { mlflowApi, teamOf } from '../components/mlflow-api.ts';
import { RunCompare } from '../components/run-compare.tsx';
import { RunsTable } from '../components/runs-table.tsx';
import { portalMessage } from '../session.ts';
import { QueryState } from './query-state.tsx';

/** An experiment at its own URL (`/experiments/ID`): its runs with params and metrics, and runs compared on a chart. */
export function ExperimentPage({ client, id }: { client: Client; id: string }) {
  const mlflow = useMemo(() => mlflowApi(client), [client]);
  const experiment = useQuery({
    queryKey: ['experiments', 'one', id],
    queryFn: () => mlflow.experiment(id),
  });
  const runs = useQuery({
    queryKey: ['experiments', 'runs', id],
    queryFn: () => mlflow.runs(id),
    enabled: experiment.isSuccess,
    refetchInterval: (query) =>
      query.state.data?.some((run) => run.info.status === 'RUNNING') ? 5000 : false,
  });
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const toggle = (runId: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (!next.delete(runId)) next.add(runId);
      return next;
    });
  return (
    <section data-testid="experiment-page">
      <p className="crumbs">
        <Link href="/experiments">Experiments</Link> / <code>{id}</code>
      </p>
      {experiment.isError ? (
        <p role="alert" className="error" data-testid="experiment-missing">
          {experiment.error instanceof ApiError && experiment.error.status === 404
            ? `No experiment ${id} in your teams.`
            : portalMessage(experiment.error)}
        </p>
      ) : (
        <QueryState query={experiment}>
          {(data) => (
            <>
              <h1>{data.name}</h1>
              <p className="muted small">
                team {teamOf(data) ?? '—'} · created {epochTime(data.creation_time)} UTC
              </p>
              <QueryState query={runs}>
                {(items) => {
                  const picked = items.filter((run) => selected.has(run.info.run_id));
                  return items.length === 0 ? (
                    <p className="muted" data-testid="runs-empty">
                      No runs in this experiment yet.
                    </p>
                  ) : (
                    <>
                      <RunsTable runs={items} selected={selected} onToggle={toggle} />
                      {picked.length >= 2 ? (
                        <RunCompare mlflow={mlflow} runs={picked} />
                      ) : (
                        <p className="muted" data-testid="compare-hint">
                          Tick two or more runs to compare a metric on one chart.
                        </p>
                      )}
                    </>
                  );
                }}
              </QueryState>
            </>
          )}
        </QueryState>
      )}
    </section>
  );
}
