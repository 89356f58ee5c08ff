import { jobGpuSeries } from '@aicloud/core';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

const GpuPoint = z.object({
  time: z.string(),
  utilizationPercent: z.number().nullable(),
  memoryUsedMiB: z.number().nullable(),
  powerW: z.number().nullable(),
});

/** GPU figures of a workload, sampled from nvidia-smi. */
export const WorkloadGpuSeries = z.object({
  workloadId: z.string(),
  gpus: z.array(
    z.object({
      index: z.number(),
      uuid: z.string(),
      name: z.string(),
      attributedBy: z.string(),
      memoryTotalMiB: z.number(),
      points: z.array(GpuPoint),
    }),
  ),
});

/** GPU telemetry per workload. */
export function telemetryRoutes({ jobs, store }: RouteDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/:id/gpu',
      summary: "A job's GPU utilisation, memory and power over time, per GPU (sampled from nvidia-smi)",
      tag: 'jobs',
      response: WorkloadGpuSeries,
      handler: async ({ actor, params }) => {
        const job = await jobs.get(actor, params.id!);
        return jobGpuSeries(store.db, job.id);
      },
    }),
  ];
}
