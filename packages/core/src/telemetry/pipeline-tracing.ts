import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { Telemetry } from './telemetry.ts';
import { traceparentOf } from './traceparent.ts';

/** Where a pipeline's run and its steps' attempts meet OpenTelemetry. */
export interface PipelineTracing {
  /** The pipeline starts (created, or retried): its `pipeline.run` span, the root of its trace. */
  pipelineStarted(pipeline: { id: string; name: string; team: string; steps: number }): void;
  /**
   * A step's attempt is about to be submitted: its `pipeline.step` span, a child of the pipeline's. Returns the
   * span's `traceparent`, which the step's job submission continues (so `job.submit`, `job.run` and the job's
   * own `TRACEPARENT` sit under the step).
   */
  stepStarted(pipelineId: string, step: string, attempt: number): string | undefined;
  /** The step's job, once admission gave it one. */
  stepJob(pipelineId: string, step: string, jobId: string): void;
  /** A step answered from the cache: a zero-length `pipeline.step` span that says so. */
  stepCached(pipelineId: string, step: string, fromJobId: string | null): void;
  /** The step's attempt ended (`retrying` ends this attempt's span; the next attempt gets its own). */
  stepEnded(pipelineId: string, step: string, status: string, reason?: string | null): void;
  /** The pipeline ended: its steps' open spans end with it (`cancelled`, or `unfinished` after a failure). */
  pipelineEnded(pipelineId: string, status: string, reason: string | null): void;
}

/** Pipelines traced at once in this process; beyond it the oldest's spans are dropped unended. */
const MAX_PIPELINES = 10_000;

const NO_TRACING: PipelineTracing = {
  pipelineStarted() {},
  stepStarted: () => undefined,
  stepJob() {},
  stepCached() {},
  stepEnded() {},
  pipelineEnded() {},
};

/**
 * Pipeline spans: one `pipeline.run` per run of a pipeline, one `pipeline.step` per step attempt under it, and
 * the step's job submission continuing the step's span. Spans live in this process's memory from start to end,
 * like a job's submit trace: after a server restart a running pipeline's steps start a new `pipeline.run`
 * (`aicloud.pipeline.resumed`), so the trace is split where the server stopped but no step is left without one.
 */
export function createPipelineTracing(telemetry: Telemetry): PipelineTracing {
  if (!telemetry.enabled) return NO_TRACING;
  const { tracer } = telemetry;
  const runs = new Map<string, { span: Span; steps: Map<string, Span> }>();

  function start(pipeline: { id: string; name?: string; team?: string; steps?: number }, resumed: boolean) {
    runs.get(pipeline.id)?.span.end();
    if (runs.size >= MAX_PIPELINES) runs.delete(runs.keys().next().value!);
    const span = tracer.startSpan('pipeline.run', {
      kind: SpanKind.INTERNAL,
      attributes: {
        'aicloud.pipeline.id': pipeline.id,
        ...(pipeline.name === undefined ? {} : { 'aicloud.pipeline.name': pipeline.name }),
        ...(pipeline.team === undefined ? {} : { 'aicloud.team': pipeline.team }),
        ...(pipeline.steps === undefined ? {} : { 'aicloud.pipeline.steps': pipeline.steps }),
        ...(resumed ? { 'aicloud.pipeline.resumed': true } : {}),
      },
    });
    const run = { span, steps: new Map<string, Span>() };
    runs.set(pipeline.id, run);
    return run;
  }

  function stepSpan(pipelineId: string, step: string, attributes: Record<string, string | number | boolean>) {
    const run = runs.get(pipelineId) ?? start({ id: pipelineId }, true);
    run.steps.get(step)?.end();
    const span = tracer.startSpan(
      'pipeline.step',
      {
        kind: SpanKind.INTERNAL,
        attributes: { 'aicloud.pipeline.id': pipelineId, 'aicloud.pipeline.step': step, ...attributes },
      },
      trace.setSpan(ROOT_CONTEXT, run.span),
    );
    run.steps.set(step, span);
    return span;
  }

  function end(span: Span, status: string, reason?: string | null) {
    span.setAttribute('aicloud.pipeline.status', status);
    if (status !== 'succeeded' && status !== 'cached') {
      span.setAttribute(ATTR_ERROR_TYPE, status);
      span.setStatus({ code: SpanStatusCode.ERROR, message: reason ?? status });
    }
    span.end();
  }

  return {
    pipelineStarted: (pipeline) => void start(pipeline, false),
    stepStarted: (pipelineId, step, attempt) =>
      traceparentOf(stepSpan(pipelineId, step, { 'aicloud.pipeline.attempt': attempt })),
    stepJob(pipelineId, step, jobId) {
      runs.get(pipelineId)?.steps.get(step)?.setAttribute('aicloud.job.id', jobId);
    },
    stepCached(pipelineId, step, fromJobId) {
      const span = stepSpan(pipelineId, step, {
        'aicloud.pipeline.cached': true,
        ...(fromJobId ? { 'aicloud.job.id': fromJobId } : {}),
      });
      runs.get(pipelineId)!.steps.delete(step);
      end(span, 'cached');
    },
    stepEnded(pipelineId, step, status, reason) {
      const run = runs.get(pipelineId);
      const span = run?.steps.get(step);
      if (!run || !span) return;
      run.steps.delete(step);
      end(span, status, reason);
    },
    pipelineEnded(pipelineId, status, reason) {
      const run = runs.get(pipelineId);
      if (!run) return;
      runs.delete(pipelineId);
      // Steps still open when the pipeline ends: cancelled with it, or left unfollowed once it failed.
      for (const span of run.steps.values())
        end(span, status === 'cancelled' ? 'cancelled' : 'unfinished', reason);
      end(run.span, status, reason);
    },
  };
}

export { NO_TRACING as noPipelineTracing };
