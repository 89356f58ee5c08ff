import { createReadStream, existsSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { routes } from '@aicloud/contracts';
import { AppError, createWorkloadQueries, jobPaths } from '@aicloud/core';
import { malformedMetricsFile, readMalformedMetrics } from '@aicloud/executors';
import { implement, type RouteDeps } from '../route.ts';

/** Streams a log file from an offset; when following, keeps reading until the job ends. */
function logStream(
  file: string,
  offset: number,
  follow: boolean,
  isFinal: () => Promise<boolean>,
  signal: AbortSignal,
): Readable {
  let position = offset;
  let finalSeen = false;
  return new Readable({
    async read() {
      for (;;) {
        if (signal.aborted) {
          this.push(null);
          return;
        }
        const size = existsSync(file) ? statSync(file).size : 0;
        if (size > position) {
          const chunk = await new Promise<Buffer>((resolve, reject) => {
            const parts: Buffer[] = [];
            createReadStream(file, { start: position, end: Math.min(size, position + 65536) - 1 })
              .on('data', (part) => parts.push(part as Buffer))
              .on('end', () => resolve(Buffer.concat(parts)))
              .on('error', reject);
          });
          position += chunk.length;
          this.push(chunk);
          return;
        }
        if (!follow || finalSeen) {
          this.push(null);
          return;
        }
        // Read once more after the job ended, so the last lines the executor copied are not lost.
        finalSeen = await isFinal();
        await new Promise((resolve) => setTimeout(resolve, finalSeen ? 300 : 250));
      }
    },
  });
}

/** Logs, metrics and secrets of workloads. */
export function workloadRoutes({ jobs, runner, secrets, store, config, clock }: RouteDeps) {
  const workloads = createWorkloadQueries({ store });
  return [
    implement(routes.getJobLogs, async ({ actor, params, query, reply, request }) => {
      const job = await jobs.get(actor, params.id);
      const file = jobPaths(config.dataDir, job.id).logFile;
      const follow = query.follow === 'true' || query.follow === '1';
      const abort = new AbortController();
      request.raw.on('close', () => abort.abort());
      reply.type('text/plain; charset=utf-8');
      return logStream(
        file,
        query.offset ?? 0,
        follow,
        () => workloads.jobEnded(job.id),
        abort.signal,
      ) as unknown as string;
    }),
    implement(routes.getJobMetrics, async ({ actor, params }) => {
      const job = await jobs.get(actor, params.id);
      const malformed = readMalformedMetrics(malformedMetricsFile(jobPaths(config.dataDir, job.id).logFile));
      return {
        jobId: job.id,
        series: await workloads.metricSeries(job.id),
        malformed: malformed?.first ? { count: malformed.count, first: malformed.first } : null,
      };
    }),
    implement(routes.reportJobMetrics, async ({ actor, params, body }) => {
      const job = await jobs.get(actor, params.id);
      if (job.status !== 'running')
        throw new AppError('conflict', `job ${job.id} is ${job.status}; metrics are accepted while it runs`);
      await runner.recordMetric(
        job.id,
        { ...(body.step === undefined ? {} : { step: body.step }), ...body.metrics },
        clock.now(),
      );
      return { accepted: Object.keys(body.metrics).length };
    }),
    implement(routes.preemptJob, async ({ actor, params }) => {
      if (!actor.principal.platformAdmin)
        throw new AppError('forbidden', 'only platform-admins reclaim spot capacity');
      const job = await jobs.get(actor, params.id);
      if (job.status !== 'running' || !job.spot)
        throw new AppError('conflict', `job ${job.id} is not a running spot job`);
      await runner.stop(job.id, 'preempted');
      return { jobId: job.id, status: 'preempting' };
    }),
    implement(routes.listSecrets, async ({ actor, params }) => ({
      items: await secrets.list(actor, params.team),
    })),
    implement(routes.setSecret, ({ actor, params, body }) =>
      secrets.set(actor, params.team, params.name, body.value),
    ),
    implement(routes.deleteSecret, async ({ actor, params }) => {
      await secrets.delete(actor, params.team, params.name);
      return { deleted: true as const };
    }),
  ];
}
