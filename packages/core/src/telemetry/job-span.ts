import type { Job } from '@aicloud/contracts';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { Telemetry } from './telemetry.ts';
import { contextOfTraceparent } from './traceparent.ts';

/**
 * Records an ended job's life as one `job.run` span, timed from its start (or its submission, when it never
 * started) to its end, in the trace of its `job.submit` span when this process saw the submission: admission,
 * the wait in the queue and the run read as one trace beside the spans the job itself exported with its
 * `TRACEPARENT`. A job that did not succeed carries `error.type` = its end status.
 */
export function recordJobSpan(telemetry: Telemetry, job: Job): void {
  if (!telemetry.enabled) return;
  const created = Date.parse(job.createdAt);
  const started = job.startedAt ? Date.parse(job.startedAt) : null;
  const ended = job.endedAt ? Date.parse(job.endedAt) : Date.now();
  const span = telemetry.tracer.startSpan(
    'job.run',
    {
      kind: SpanKind.INTERNAL,
      startTime: started ?? created,
      attributes: {
        'aicloud.job.id': job.id,
        'aicloud.team': job.team,
        'aicloud.product': job.product,
        'aicloud.job.status': job.status,
        'aicloud.job.gpus': job.gpus,
        'aicloud.job.cost_usd': job.cost,
        'aicloud.job.queue_seconds': Math.max(0, ((started ?? ended) - created) / 1000),
        ...(job.exitCode === null ? {} : { 'process.exit.code': job.exitCode }),
      },
    },
    contextOfTraceparent(telemetry.jobTraceparent(job.id)),
  );
  if (job.status !== 'succeeded') {
    span.setAttribute(ATTR_ERROR_TYPE, job.status);
    span.setStatus({ code: SpanStatusCode.ERROR, message: job.status });
  }
  span.end(ended);
}
