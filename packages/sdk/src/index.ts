export { logMetrics } from './log-metrics.ts';
export { type RunContext, runContext } from './run-context.ts';
