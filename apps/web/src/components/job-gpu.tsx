import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { QueryState } from '../pages/query-state.tsx';
import { GpuCharts, type WorkloadGpuSeries } from './gpu-charts.tsx';

/** The job's GPU utilisation and memory over time (`GET /v1/jobs/:id/gpu`), refreshed every 5 s while it runs. */
export function JobGpu({
  client,
  id,
  gpus,
  live,
}: {
  client: Client;
  id: string;
  gpus: number;
  live: boolean;
}) {
  const series = useQuery({
    queryKey: ['jobs', 'gpu', id],
    queryFn: () => client.request<WorkloadGpuSeries>('GET', `/v1/jobs/${encodeURIComponent(id)}/gpu`),
    refetchInterval: live ? 5000 : false,
  });
  return (
    <section className="panel" aria-label="GPU telemetry" data-testid="job-gpu">
      <h2>GPU telemetry</h2>
      <QueryState query={series}>
        {(data) =>
          data.gpus.every((gpu) => gpu.points.length === 0) ? (
            <p className="muted" data-testid="job-gpu-empty">
              {gpus === 0
                ? 'This job holds no GPUs.'
                : `No GPU samples ${live ? 'yet' : 'were recorded'}: they come from nvidia-smi on the machine that runs the job.`}
            </p>
          ) : (
            <GpuCharts workloads={[data]} testId="job-gpu-charts" />
          )
        }
      </QueryState>
    </section>
  );
}
