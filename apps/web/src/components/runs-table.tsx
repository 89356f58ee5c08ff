import { elapsed, epochTime } from './format.ts';
import { shortNumber } from './line-chart.tsx';
import { type MlflowRun, metricNumber } from './mlflow-api.ts';
import { StatusBadge } from './outcome-badge.tsx';
import { ResponsiveTable } from './responsive-table.tsx';

/** The sorted union of some lists of keys. */
function keysOf(lists: { key: string }[][]): string[] {
  return [...new Set(lists.flatMap((list) => list.map((item) => item.key)))].sort();
}

/** The metric keys any of these runs logged. */
export function metricKeysOf(runs: MlflowRun[]): string[] {
  return keysOf(runs.map((run) => run.data.metrics ?? []));
}

/** A run's name, or its id when it has none. */
export function runLabel(run: MlflowRun): string {
  return run.info.run_name || run.info.run_id;
}

/** How long a run ran (to now while it runs). */
function runDuration(run: MlflowRun, now: number): string {
  if (!run.info.start_time) return '—';
  const end = run.info.end_time ?? (run.info.status === 'RUNNING' ? now : null);
  return end === null ? '—' : elapsed(end - run.info.start_time);
}

/**
 * An experiment's runs: status, start, duration, then one column per param and per metric (the union of
 * the runs' keys; a metric shows its latest value), each row with a box to pick it for comparison.
 */
export function RunsTable({
  runs,
  selected,
  onToggle,
}: {
  runs: MlflowRun[];
  selected: ReadonlySet<string>;
  onToggle: (runId: string) => void;
}) {
  const params = keysOf(runs.map((run) => run.data.params ?? []));
  const metrics = metricKeysOf(runs);
  const now = Date.now();
  return (
    <>
      <p className="muted small">
        {runs.length} run{runs.length === 1 ? '' : 's'} · <span className="param-key">params</span> and{' '}
        <span className="metric-key">metrics</span> (latest value) as columns
      </p>
      <ResponsiveTable>
        <table data-testid="runs-table" className="runs-table">
          <thead>
            <tr>
              <th>Compare</th>
              <th>Run</th>
              <th>Status</th>
              <th>Started (UTC)</th>
              <th>Duration</th>
              {params.map((key) => (
                <th key={`p-${key}`} className="param-col" title={`param ${key}`}>
                  {key}
                </th>
              ))}
              {metrics.map((key) => (
                <th key={`m-${key}`} className="metric-col" title={`metric ${key} (latest)`}>
                  {key}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => {
              const id = run.info.run_id;
              const paramValues = new Map((run.data.params ?? []).map((param) => [param.key, param.value]));
              const metricValues = new Map(
                (run.data.metrics ?? []).map((metric) => [metric.key, metricNumber(metric.value)]),
              );
              return (
                <tr
                  key={id}
                  data-testid={`run-row-${runLabel(run)}`}
                  className={selected.has(id) ? 'selected' : ''}
                >
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`compare ${runLabel(run)}`}
                      checked={selected.has(id)}
                      onChange={() => onToggle(id)}
                    />
                  </td>
                  <td>
                    {runLabel(run)} <code className="muted small">{id.slice(0, 8)}</code>
                  </td>
                  <td>
                    <StatusBadge status={run.info.status.toLowerCase()} />
                  </td>
                  <td>{epochTime(run.info.start_time)}</td>
                  <td>{runDuration(run, now)}</td>
                  {params.map((key) => (
                    <td key={`p-${key}`} data-param={key}>
                      {paramValues.get(key) ?? '—'}
                    </td>
                  ))}
                  {metrics.map((key) => {
                    const value = metricValues.get(key);
                    return (
                      <td key={`m-${key}`} data-metric={key} className="number">
                        {value === undefined ? '—' : shortNumber(value)}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      </ResponsiveTable>
    </>
  );
}
