import { useQueries } from '@tanstack/react-query';
import { useState } from 'react';
import { portalMessage } from '../session.ts';
import { LineChart } from './line-chart.tsx';
import { type MlflowRun, metricNumber, type mlflowApi } from './mlflow-api.ts';
import { metricKeysOf, runLabel } from './runs-table.tsx';

/** Two or more runs' histories of one metric on one chart, one line per run, over the steps they logged. */
export function RunCompare({ mlflow, runs }: { mlflow: ReturnType<typeof mlflowApi>; runs: MlflowRun[] }) {
  const keys = metricKeysOf(runs);
  const [chosen, setChosen] = useState<string | null>(null);
  const key = chosen !== null && keys.includes(chosen) ? chosen : (keys[0] ?? null);
  const histories = useQueries({
    queries: runs.map((run) => ({
      queryKey: ['experiments', 'history', run.info.run_id, key],
      queryFn: () => mlflow.history(run.info.run_id, key!),
      enabled: key !== null,
    })),
  });
  const failed = histories.find((history) => history.isError);
  return (
    <section className="panel" aria-label="Compare runs" data-testid="run-compare">
      <h2>Compare {runs.length} runs</h2>
      {key === null ? (
        <p className="muted">These runs logged no metrics.</p>
      ) : (
        <>
          <div className="filters">
            <label htmlFor="compare-metric">Metric</label>
            <select id="compare-metric" value={key} onChange={(event) => setChosen(event.target.value)}>
              {keys.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          </div>
          {failed?.error ? (
            <p role="alert" className="error">
              {portalMessage(failed.error)}
            </p>
          ) : histories.some((history) => history.isPending) ? (
            <p className="muted">Loading…</p>
          ) : (
            <LineChart
              testId="compare-chart"
              label={`${key} by step, one line per run`}
              xLabel="step"
              yLabel={key}
              series={runs.map((run, index) => ({
                name: runLabel(run),
                points: (histories[index]?.data ?? [])
                  .map((point) => ({ x: point.step, y: metricNumber(point.value) }))
                  .filter((point) => Number.isFinite(point.y)),
              }))}
            />
          )}
        </>
      )}
    </section>
  );
}
