import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { JobService } from '../admission/job-service.ts';
import { AppError } from '../app-error.ts';
import type { Telemetry } from './telemetry.ts';
import { contextOfTraceparent } from './traceparent.ts';

/**
 * The job service with a `job.submit` span around each submission (admission: policy, approvals, quota,
 * budget), continuing the caller's `traceparent` (an API client's header, a pipeline step's span); the span's
 * trace is remembered for the job's `TRACEPARENT` when it starts.
 */
export function traceJobSubmissions(jobs: JobService, telemetry: Telemetry): JobService {
  if (!telemetry.enabled) return jobs;
  return {
    ...jobs,
    async submit(actor, request, options) {
      const span = telemetry.tracer.startSpan(
        'job.submit',
        { kind: SpanKind.INTERNAL, attributes: { 'aicloud.product': String(request.product) } },
        contextOfTraceparent(options?.traceparent),
      );
      try {
        const result = await jobs.submit(actor, request, options);
        span.setAttribute('aicloud.admission.outcome', result.admission.outcome);
        if (result.job) {
          span.setAttributes({ 'aicloud.job.id': result.job.id, 'aicloud.team': result.job.team });
          telemetry.rememberJobTrace(result.job.id, span);
        }
        return result;
      } catch (error) {
        const type = error instanceof AppError ? error.code : '_OTHER';
        span.setAttribute(ATTR_ERROR_TYPE, type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: type });
        throw error;
      } finally {
        span.end();
      }
    },
  };
}
