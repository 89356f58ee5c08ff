import type { Client } from '@aicloud/client';
import type { Endpoint } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { QueryState } from '../pages/query-state.tsx';
import { ms } from './endpoint-details.tsx';
import { EndpointEconomics } from './endpoint-economics.tsx';
import { GpuCharts, type WorkloadGpuSeries } from './gpu-charts.tsx';
import { shortNumber } from './line-chart.tsx';
import { StatusBadge } from './outcome-badge.tsx';
import { ResponsiveTable } from './responsive-table.tsx';

/** What each drift feature measures, in words. */
const featureLabels: Record<string, string> = {
  prompt_tokens: 'prompt tokens',
  completion_tokens: 'completion tokens',
  latency_ms: 'latency',
  empty_answer: 'empty answers',
  embedding_centroid_distance: 'embedding distance to the baseline centroid',
};

/** PSI bands as drift monitors read them: < 0.1 stable, < 0.25 moderate, else shifted. */
function psiBand(psi: number): string {
  return psi < 0.1 ? 'stable' : psi < 0.25 ? 'moderate' : 'shifted';
}

function Tile({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="stat-tile" data-testid={testId}>
      <span className="muted small">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

/** Drift of the live window against the baseline, per feature (PSI and KS). */
function Drift({ drift }: { drift: Endpoint['stats']['drift'] }) {
  const features = Object.entries(drift.features);
  return (
    <div data-testid="endpoint-drift">
      <h3>
        Drift <StatusBadge status={drift.status} />
      </h3>
      <p className="muted small">
        baseline {drift.baselineSize} requests, window {drift.windowSize} requests
        {drift.status === 'collecting' ? ': still collecting the baseline' : ''}
      </p>
      {features.length > 0 && (
        <ResponsiveTable>
          <table data-testid="drift-features">
            <thead>
              <tr>
                <th>Feature</th>
                <th>PSI</th>
                <th>Band</th>
                <th>KS</th>
                <th>KS p-value</th>
              </tr>
            </thead>
            <tbody>
              {features.map(([feature, score]) => (
                <tr key={feature} data-testid={`drift-${feature}`}>
                  <td>{featureLabels[feature] ?? feature}</td>
                  <td className="number">{shortNumber(score!.psi)}</td>
                  <td>
                    <StatusBadge status={psiBand(score!.psi)} />
                  </td>
                  <td className="number">{shortNumber(score!.ks)}</td>
                  <td className="number">{shortNumber(score!.ksPValue)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ResponsiveTable>
      )}
    </div>
  );
}

/** The GPUs of the endpoint's replicas over time (`GET /v1/endpoints/:name/gpu`). */
function ReplicaGpus({ client, endpoint }: { client: Client; endpoint: Endpoint }) {
  const series = useQuery({
    queryKey: ['endpoints', 'gpu', endpoint.name],
    queryFn: () =>
      client.request<{ endpoint: string; replicas: WorkloadGpuSeries[] }>(
        'GET',
        `/v1/endpoints/${encodeURIComponent(endpoint.name)}/gpu`,
      ),
    refetchInterval: 10_000,
    enabled: endpoint.gpus > 0,
  });
  return (
    <div data-testid="endpoint-gpu">
      <h3>Replica GPUs</h3>
      {endpoint.gpus === 0 ? (
        <p className="muted">CPU only: its replicas hold no GPUs.</p>
      ) : (
        <QueryState query={series}>
          {(data) =>
            data.replicas.every((replica) => replica.gpus.every((gpu) => gpu.points.length === 0)) ? (
              <p className="muted">No GPU samples for its live replicas yet (nvidia-smi on their machine).</p>
            ) : (
              <GpuCharts workloads={data.replicas} testId="endpoint-gpu-charts" />
            )
          }
        </QueryState>
      )}
    </div>
  );
}

/** An endpoint's dashboard: traffic, latency, throughput, drift, economics and its replicas' GPUs. */
export function EndpointDashboard({ client, endpoint }: { client: Client; endpoint: Endpoint }) {
  const { stats } = endpoint;
  const errorRate = stats.requests > 0 ? ` (${((stats.errors / stats.requests) * 100).toFixed(1)} %)` : '';
  return (
    <section className="panel" aria-label="Dashboard" data-testid="endpoint-dashboard">
      <h2>Dashboard</h2>
      <p className="muted small">live numbers since the server started · refreshes every 5 s</p>
      <div className="stat-tiles">
        <Tile label="Requests" value={String(stats.requests)} testId="stat-requests" />
        <Tile label="Errors" value={`${stats.errors}${errorRate}`} testId="stat-errors" />
        <Tile label="p50 latency" value={ms(stats.latencyP50Ms)} testId="stat-p50" />
        <Tile label="p99 latency" value={ms(stats.latencyP99Ms)} testId="stat-p99" />
        <Tile label="TTFT p50" value={ms(stats.timeToFirstTokenP50Ms)} testId="stat-ttft" />
        <Tile
          label="Tokens/s"
          value={stats.tokensPerSecond === null ? '—' : stats.tokensPerSecond.toFixed(1)}
          testId="stat-tps"
        />
        <Tile label="In flight" value={String(stats.inFlight)} testId="stat-in-flight" />
        <Tile label="Cold starts" value={String(stats.coldStarts)} testId="stat-cold-starts" />
      </div>
      <Drift drift={stats.drift} />
      <EndpointEconomics client={client} endpoint={endpoint} />
      <ReplicaGpus client={client} endpoint={endpoint} />
    </section>
  );
}
