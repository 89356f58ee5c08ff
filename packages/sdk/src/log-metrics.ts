import { type RunContext, runContext } from './run-context.ts';

/**
 * Reports metrics of the current job: through the API with the job's run token, or, outside the platform
 * or when the API cannot be reached, as a `{"event":"metric",…}` JSON line on stdout (which the platform
 * also reads). Never throws: metrics must not crash training.
 */
export async function logMetrics(
  metrics: Record<string, number>,
  step?: number,
  context: RunContext = runContext(),
): Promise<'api' | 'stdout'> {
  if (context.client && context.jobId) {
    try {
      await context.client.jobs.reportMetrics(context.jobId, metrics, step);
      return 'api';
    } catch {
      // Fall through to stdout: the platform parses JSON lines too.
    }
  }
  process.stdout.write(
    `${JSON.stringify({ event: 'metric', ...(step === undefined ? {} : { step }), ...metrics })}\n`,
  );
  return 'stdout';
}
