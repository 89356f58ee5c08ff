import { createReadStream, existsSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { JobMetrics, ReportMetricsRequest, SecretInfo } from '@aicloud/contracts';
import { AppError, FINAL_STATES, jobPaths } from '@aicloud/core';
import { malformedMetricsFile, readMalformedMetrics } from '@aicloud/executors';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

const LogQuery = z.strictObject({
  follow: z.enum(['true', 'false', '1', '0']).optional(),
  offset: z.coerce.number().int().min(0).optional(),
});

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
export function workloadRoutes(platform: RouteDeps) {
  const { jobs, runner, secrets, store, config } = platform;
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/:id/logs',
      summary: "A job's log (stdout and stderr, secrets masked); follow=true streams until the job ends",
      tag: 'jobs',
      query: LogQuery,
      response: z.string(),
      handler: async ({ actor, params, query, reply, request }) => {
        const job = await jobs.get(actor, params.id!);
        const file = jobPaths(config.dataDir, job.id).logFile;
        const follow = query.follow === 'true' || query.follow === '1';
        const abort = new AbortController();
        request.raw.on('close', () => abort.abort());
        const isFinal = async () => {
          const row = await store.db
            .selectFrom('jobs')
            .select('status')
            .where('id', '=', job.id)
            .executeTakeFirst();
          return !row || FINAL_STATES.includes(row.status as never);
        };
        reply.type('text/plain; charset=utf-8');
        return logStream(file, query.offset ?? 0, follow, isFinal, abort.signal) as unknown as string;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/:id/metrics',
      summary: "A job's metrics, one series per name",
      tag: 'jobs',
      response: JobMetrics,
      handler: async ({ actor, params }) => {
        const job = await jobs.get(actor, params.id!);
        const rows = await store.db
          .selectFrom('job_metrics')
          .selectAll()
          .where('job_id', '=', job.id)
          .orderBy('seq')
          .execute();
        const series: JobMetrics['series'] = {};
        for (const row of rows) {
          const points = series[row.name] ?? [];
          points.push({ step: row.step, value: row.value, time: row.time });
          series[row.name] = points;
        }
        const malformed = readMalformedMetrics(
          malformedMetricsFile(jobPaths(config.dataDir, job.id).logFile),
        );
        return {
          jobId: job.id,
          series,
          malformed: malformed?.first ? { count: malformed.count, first: malformed.first } : null,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/jobs/:id/metrics',
      summary: 'Report metrics for a running job (its run token, or a member of its team)',
      tag: 'jobs',
      body: ReportMetricsRequest,
      response: z.object({ accepted: z.number() }),
      status: 202,
      handler: async ({ actor, params, body }) => {
        const job = await jobs.get(actor, params.id!);
        if (job.status !== 'running')
          throw new AppError(
            'conflict',
            `job ${job.id} is ${job.status}; metrics are accepted while it runs`,
          );
        await runner.recordMetric(
          job.id,
          { ...(body.step === undefined ? {} : { step: body.step }), ...body.metrics },
          platform.clock.now(),
        );
        return { accepted: Object.keys(body.metrics).length };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/jobs/:id/preempt',
      summary:
        'Reclaim a running spot job (platform-admins; simulates a spot interruption): it restarts from its checkpoint dir',
      tag: 'jobs',
      response: z.object({ jobId: z.string(), status: z.string() }),
      status: 202,
      handler: async ({ actor, params }) => {
        if (!actor.principal.platformAdmin)
          throw new AppError('forbidden', 'only platform-admins reclaim spot capacity');
        const job = await jobs.get(actor, params.id!);
        if (job.status !== 'running' || !job.spot)
          throw new AppError('conflict', `job ${job.id} is not a running spot job`);
        await runner.stop(job.id, 'preempted');
        return { jobId: job.id, status: 'preempting' };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/teams/:team/secrets',
      summary: "A team's secrets (names only; values are never returned)",
      tag: 'secrets',
      response: z.object({ items: z.array(SecretInfo) }),
      handler: async ({ actor, params }) => ({ items: await secrets.list(actor, params.team!) }),
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/teams/:team/secrets/:name',
      summary: 'Set a team secret; it is stored encrypted (AES-256-GCM) and injected into jobs that name it',
      tag: 'secrets',
      body: z.strictObject({ value: z.string().min(1).max(65536) }),
      response: SecretInfo,
      handler: ({ actor, params, body }) => secrets.set(actor, params.team!, params.name!, body.value),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/teams/:team/secrets/:name',
      summary: 'Delete a team secret',
      tag: 'secrets',
      response: z.object({ deleted: z.literal(true) }),
      handler: async ({ actor, params }) => {
        await secrets.delete(actor, params.team!, params.name!);
        return { deleted: true as const };
      },
    }),
  ];
}
