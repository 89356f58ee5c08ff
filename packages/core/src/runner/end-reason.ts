import type { JobReason, JobStatus } from '@aicloud/contracts';
import { formatDuration } from '../duration.ts';

const reason = (code: string, message: string, next: string | null = null): JobReason => ({
  code,
  message,
  asked: null,
  limit: null,
  rule: null,
  next,
});

/** The job status and reason for how a workload ended. */
export function endOfJob(
  state: 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'lost',
  detail: {
    reason: string | null;
    exitCode: number | null;
    maxRuntimeSeconds: number;
    graceSeconds: number;
    jobId: string;
  },
): { status: JobStatus; reasons: JobReason[] } {
  switch (state) {
    case 'succeeded':
      return { status: 'succeeded', reasons: [] };
    case 'timed_out':
      return {
        status: 'timed_out',
        reasons: [
          reason(
            'runtime_limit',
            `stopped at its runtime limit of ${formatDuration(detail.maxRuntimeSeconds)}: SIGTERM, then SIGKILL of the process group after ${detail.graceSeconds}s`,
            `resubmit with a longer --max-runtime (up to the product's maximum), and checkpoint to AICLOUD_CHECKPOINT_DIR`,
          ),
        ],
      };
    case 'cancelled':
      return {
        status: 'cancelled',
        reasons: [reason(detail.reason ?? 'cancelled', `cancelled (${detail.reason ?? 'by request'})`)],
      };
    case 'lost':
      return {
        status: 'lost',
        reasons: [
          reason(
            detail.reason ?? 'lost',
            'the platform lost track of the process (it was gone after a restart without an exit status)',
          ),
        ],
      };
    default:
      return {
        status: 'failed',
        reasons: [
          reason(
            detail.reason ?? 'failed',
            detail.exitCode !== null
              ? `exited with code ${detail.exitCode}`
              : `ended by ${detail.reason ?? 'a signal'}`,
            `read the log: aicloud jobs logs ${detail.jobId}`,
          ),
        ],
      };
  }
}
