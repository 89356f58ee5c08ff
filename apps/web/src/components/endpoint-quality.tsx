import type { Client } from '@aicloud/client';
import { type Endpoint, type EndpointEval, type EndpointEvals, routes } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { QueryState } from '../pages/query-state.tsx';
import { duration, time } from './format.ts';
import { type ChartSeries, chartColors, LineChart } from './line-chart.tsx';
import { StatusBadge } from './outcome-badge.tsx';
import { ResponsiveTable } from './responsive-table.tsx';

/** The scores of a run, by the names `/metrics` and alert rules give them. */
const metrics = [
  { name: 'exact_match', heading: 'Exact match', score: (run: EndpointEval) => run.exactMatch },
  { name: 'f1', heading: 'F1', score: (run: EndpointEval) => run.f1 },
  { name: 'judge', heading: 'Judge', score: (run: EndpointEval) => run.judgeScore },
] as const;

/** Dot colours of the model versions, apart from the metrics' line colours (the first three). */
const versionColors = [chartColors[4]!, chartColors[5]!, chartColors[7]!, chartColors[3]!, chartColors[6]!];

/** A score 0–1 in three decimals (as `aicloud endpoints evals` prints it), or a dash. */
const score = (value: number | null) => (value === null ? '—' : value.toFixed(3));

/** Each version the runs scored, oldest first, with its dot colour. */
function versionsOf(runs: EndpointEval[]): Map<number, string> {
  const versions = [...new Set(runs.map((run) => run.version))].sort((a, b) => a - b);
  return new Map(versions.map((version, index) => [version, versionColors[index % versionColors.length]!]));
}

/** Times on the x axis: `14:05:09` when the runs lie within a day, else `12-05 14:05`. */
function timeFormat(runs: EndpointEval[]): (ms: number) => string {
  const times = runs.map((run) => Date.parse(run.finishedAt));
  return Math.max(...times) - Math.min(...times) < 86_400_000
    ? (ms) => new Date(ms).toISOString().slice(11, 19)
    : (ms) => new Date(ms).toISOString().slice(5, 16).replace('T', ' ');
}

/** One line per metric over the runs' times; each point a dot in its version's colour. */
function QualityChart({ runs, colors }: { runs: EndpointEval[]; colors: Map<number, string> }) {
  const series: ChartSeries[] = metrics.map((metric, index) => ({
    name: metric.name,
    color: chartColors[index]!,
    points: runs.flatMap((run) => {
      const y = metric.score(run);
      return y === null
        ? []
        : [
            {
              x: Date.parse(run.finishedAt),
              y,
              color: colors.get(run.version)!,
              label: `v${run.version} · ${metric.name} ${score(y)} · ${time(run.finishedAt)} · ${run.trigger}`,
            },
          ];
    }),
  }));
  return (
    <figure className="metric-chart" style={{ marginBottom: 12 }}>
      <figcaption>
        <strong>Scores</strong>{' '}
        <span className="muted small">0–1 per run over time (UTC), dots by version</span>
      </figcaption>
      <LineChart
        testId="quality-chart"
        label="Evaluation scores over time, one line per metric, dots coloured by model version"
        xLabel="time (UTC)"
        yDomain={[0, 1]}
        formatX={timeFormat(runs)}
        timeAxis
        series={series}
      />
      <p className="line-chart-legend" data-testid="quality-versions">
        {[...colors].map(([version, color]) => {
          const count = runs.filter((run) => run.version === version).length;
          return (
            <span key={version} data-version={version}>
              <i style={{ background: color, height: 8, width: 8, borderRadius: 4 }} />
              version {version} ({count} run{count === 1 ? '' : 's'})
            </span>
          );
        })}
      </p>
    </figure>
  );
}

/** The runs, newest first: when, which version, why, how many prompts, the scores. */
function RunsTable({ runs }: { runs: EndpointEval[] }) {
  return (
    <ResponsiveTable>
      <table data-testid="quality-runs">
        <thead>
          <tr>
            <th>Time</th>
            <th>Version</th>
            <th>Trigger</th>
            <th>Samples</th>
            {metrics.map((metric) => (
              <th key={metric.name}>{metric.heading}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-testid={`eval-row-${run.id}`} data-version={run.version}>
              <td>
                {time(run.finishedAt)} <span className="muted small">by {run.createdBy}</span>
              </td>
              <td>v{run.version}</td>
              <td>
                <StatusBadge status={run.trigger} />
              </td>
              <td className="number">
                {run.samples}
                {run.failed > 0 && <span className="warning"> ({run.failed} unanswered)</span>}
              </td>
              {metrics.map((metric) => (
                <td key={metric.name} className="number" data-metric={metric.name}>
                  {score(metric.score(run))}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </ResponsiveTable>
  );
}

/** The evaluation set: its dataset, grader and schedule. */
function Schedule({ schedule }: { schedule: NonNullable<EndpointEvals['schedule']> }) {
  return (
    <p className="muted small" data-testid="quality-schedule">
      evaluation set <code>{schedule.dataset}</code>
      {schedule.judge ? (
        <>
          , graded by <code>{schedule.judge}</code>
        </>
      ) : null}
      {schedule.everySeconds === null
        ? ', run on demand and on every canary rollout'
        : `, every ${duration(schedule.everySeconds)}, next run ${time(schedule.nextRunAt)}`}
    </p>
  );
}

/** An endpoint's quality runs on its evaluation set (`GET /v1/endpoints/:name/evals`): scores by version. */
export function EndpointQuality({ client, endpoint }: { client: Client; endpoint: Endpoint }) {
  const evals = useQuery({
    queryKey: ['endpoints', 'evals', endpoint.name],
    queryFn: () => client.call(routes.listEndpointEvals, { params: { name: endpoint.name } }),
    refetchInterval: 15_000,
  });
  return (
    <section className="panel" aria-label="Quality" data-testid="endpoint-quality">
      <h2>Quality</h2>
      <QueryState query={evals}>
        {(data) =>
          data.items.length === 0 ? (
            <>
              {data.schedule && <Schedule schedule={data.schedule} />}
              <p className="muted" data-testid="quality-empty">
                {data.schedule ? (
                  'No runs yet.'
                ) : (
                  <>
                    No evaluation set: run <code>aicloud endpoints eval {endpoint.name} --dataset …</code>
                  </>
                )}
              </p>
            </>
          ) : (
            <>
              {data.schedule && <Schedule schedule={data.schedule} />}
              <QualityChart runs={data.items} colors={versionsOf(data.items)} />
              <RunsTable runs={data.items} />
            </>
          )
        }
      </QueryState>
    </section>
  );
}
