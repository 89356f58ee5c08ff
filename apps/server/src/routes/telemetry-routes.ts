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

/** GPU figures of an endpoint's replicas, one series per replica. */
const EndpointGpuSeries = z.object({ endpoint: z.string(), replicas: z.array(WorkloadGpuSeries) });

/** GPU telemetry per workload. */
export function telemetryRoutes({ jobs, endpoints, store }: RouteDeps) {
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
    defineRoute({
      method: 'GET',
      url: '/v1/endpoints/:name/gpu',
      summary:
        "An endpoint's replicas' GPU utilisation, memory and power over time (sampled from nvidia-smi)",
      tag: 'endpoints',
      response: EndpointGpuSeries,
      handler: async ({ actor, params }) => {
        const endpoint = await endpoints.get(actor, params.name!);
        const replicas = await Promise.all(
          endpoint.replicas.map((replica) => jobGpuSeries(store.db, replica.id)),
        );
        return { endpoint: endpoint.name, replicas };
      },
    }),
  ];
}
