import type { Client } from '@aicloud/client';
import type { JobMetrics } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { QueryState } from '../pages/query-state.tsx';

type Point = JobMetrics['series'][string][number];

/** A metric value in at most 4 significant digits: `0.3127`, `1.25e-5`, `1024`. */
function metricValue(value: number): string {
  return String(Number(value.toPrecision(4)));
}

/** One metric series over the job's steps (or, when it reports no steps, over its samples). */
function MetricChart({ name, points }: { name: string; points: Point[] }) {
  const stepped = points.every((point) => point.step !== null);
  const axis = stepped ? 'step' : 'sample';
  const data = points.map((point, index) => ({ x: stepped ? point.step! : index + 1, value: point.value }));
  const last = points.at(-1)!;
  return (
    <figure className="metric-chart" data-testid={`metric-chart-${name}`} aria-label={`${name} by ${axis}`}>
      <figcaption>
        <strong>{name}</strong>{' '}
        <span className="muted small">
          latest {metricValue(last.value)}
          {stepped ? ` at step ${last.step}` : ''} · {points.length} point{points.length === 1 ? '' : 's'}
        </span>
      </figcaption>
      <ResponsiveContainer width="100%" height={220}>
        <LineChart data={data} margin={{ top: 8, right: 16, bottom: 16, left: 0 }}>
          <CartesianGrid stroke="#e3e6ea" vertical={false} />
          <XAxis
            dataKey="x"
            type="number"
            domain={['dataMin', 'dataMax']}
            allowDecimals={false}
            label={{ value: axis, position: 'insideBottom', offset: -10 }}
          />
          <YAxis width={56} domain={['auto', 'auto']} tickFormatter={metricValue} />
          <Tooltip
            formatter={(value) => (typeof value === 'number' ? metricValue(value) : String(value))}
            labelFormatter={(x) => `${axis} ${x}`}
          />
          <Line
            type="linear"
            dataKey="value"
            name={name}
            stroke="#1f4fd1"
            strokeWidth={2}
            dot={data.length < 2}
            isAnimationActive={false}
          />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

/** Metric lines that did not parse, where the server reports them (`malformed`: a count and the first). */
function malformedOf(metrics: JobMetrics): { count: number; first: { line: string; error: string } } | null {
  const malformed = (metrics as { malformed?: unknown }).malformed as
    | { count?: unknown; first?: { line?: unknown; error?: unknown } | null }
    | null
    | undefined;
  if (!malformed || typeof malformed.count !== 'number' || malformed.count === 0 || !malformed.first)
    return null;
  return {
    count: malformed.count,
    first: { line: String(malformed.first.line ?? ''), error: String(malformed.first.error ?? '') },
  };
}

/** The job's metrics, one chart per series, refreshed every 3 s while the job runs. */
export function JobMetricsCharts({ client, id, live }: { client: Client; id: string; live: boolean }) {
  const metrics = useQuery({
    queryKey: ['jobs', 'metrics', id],
    queryFn: () => client.jobs.metrics(id),
    refetchInterval: live ? 3000 : false,
  });
  // Once the job ends, read its metrics one last time: the final ones arrive with its last lines.
  const wasLive = useRef(live);
  const { refetch } = metrics;
  useEffect(() => {
    if (wasLive.current && !live) void refetch();
    wasLive.current = live;
  }, [live, refetch]);
  return (
    <section className="panel" aria-label="Metrics" data-testid="job-metrics">
      <h2>Metrics</h2>
      <QueryState query={metrics}>
        {(data) => {
          const names = Object.keys(data.series)
            .filter((name) => (data.series[name]?.length ?? 0) > 0)
            .sort();
          const malformed = malformedOf(data);
          const problem = malformed && (
            <p className="warning" data-testid="metrics-malformed">
              {malformed.count} line{malformed.count === 1 ? '' : 's'} looked like metrics but could not be
              read; the first: <code>{malformed.first.line}</code> ({malformed.first.error})
            </p>
          );
          return names.length === 0 ? (
            <>
              {problem}
              <p className="muted" data-testid="metrics-empty">
                No metrics {live ? 'yet' : 'reported'}. A job reports them as JSON lines on stdout, e.g.{' '}
                <code>{'{"event":"metric","step":1,"loss":0.9}'}</code>, or with the SDK.
              </p>
            </>
          ) : (
            <>
              {problem}
              <div className="metric-charts">
                {names.map((name) => (
                  <MetricChart key={name} name={name} points={data.series[name]!} />
                ))}
              </div>
            </>
          );
        }}
      </QueryState>
    </section>
  );
}
