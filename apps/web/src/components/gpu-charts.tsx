import type { ChartSeries } from './line-chart.tsx';
import { LineChart } from './line-chart.tsx';

/** One GPU's samples for one workload, as `/v1/jobs/:id/gpu` answers them (sampled from nvidia-smi). */
export interface WorkloadGpu {
  index: number;
  uuid: string;
  name: string;
  attributedBy: string;
  memoryTotalMiB: number;
  points: {
    time: string;
    utilizationPercent: number | null;
    memoryUsedMiB: number | null;
    powerW: number | null;
  }[];
}

/** A workload's GPU figures, per GPU. */
export interface WorkloadGpuSeries {
  workloadId: string;
  gpus: WorkloadGpu[];
}

/** A time of day, UTC: `14:05:09`. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function seriesOf(
  workloads: WorkloadGpuSeries[],
  value: (point: WorkloadGpu['points'][number]) => number | null,
): ChartSeries[] {
  const named = workloads.length > 1;
  return workloads.flatMap((workload) =>
    workload.gpus.map((gpu) => ({
      name: `${named ? `${workload.workloadId} ` : ''}GPU ${gpu.index}`,
      points: gpu.points.flatMap((point) => {
        const y = value(point);
        return y === null ? [] : [{ x: Date.parse(point.time), y }];
      }),
    })),
  );
}

/** Utilisation and memory over time, one line per GPU (of each workload), side by side. */
export function GpuCharts({ workloads, testId }: { workloads: WorkloadGpuSeries[]; testId: string }) {
  const gpus = workloads.flatMap((workload) => workload.gpus);
  const usedMemory = gpus.flatMap((gpu) => gpu.points.map((point) => point.memoryUsedMiB ?? 0));
  const latest = gpus.flatMap((gpu) => {
    const last = gpu.points.at(-1);
    return last ? [{ gpu, last }] : [];
  });
  return (
    <div data-testid={testId}>
      <p className="muted small">
        {latest
          .map(
            ({ gpu, last }) =>
              `GPU ${gpu.index} (${gpu.name}, by ${gpu.attributedBy}): ${last.utilizationPercent ?? '—'} % busy, ` +
              `${last.memoryUsedMiB ?? '—'} / ${gpu.memoryTotalMiB} MiB`,
          )
          .join(' · ')}
      </p>
      <div className="metric-charts">
        <figure className="metric-chart">
          <figcaption>
            <strong>GPU utilisation</strong> <span className="muted small">% over time (UTC)</span>
          </figcaption>
          <LineChart
            testId={`${testId}-utilization`}
            label="GPU utilisation in percent over time"
            xLabel="time (UTC)"
            yDomain={[0, 100]}
            formatX={clock}
            timeAxis
            series={seriesOf(workloads, (point) => point.utilizationPercent)}
          />
        </figure>
        <figure className="metric-chart">
          <figcaption>
            <strong>GPU memory</strong> <span className="muted small">MiB used over time (UTC)</span>
          </figcaption>
          <LineChart
            testId={`${testId}-memory`}
            label="GPU memory used in MiB over time"
            xLabel="time (UTC)"
            yDomain={[0, Math.max(1, ...usedMemory) * 1.1]}
            formatX={clock}
            timeAxis
            series={seriesOf(workloads, (point) => point.memoryUsedMiB)}
          />
        </figure>
      </div>
    </div>
  );
}
