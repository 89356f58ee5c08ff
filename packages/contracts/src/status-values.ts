// Plain values, no zod: the CLI imports this module (`@aicloud/contracts/status-values`) without loading the
// schemas (docs/decisions/2026-12-04-cli-startup.md); the schemas build their enums from the same arrays.

/** Where a job is in its life. */
export const jobStatuses = [
  'pending_approval',
  'queued',
  'admitted',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'lost',
] as const;

/** Job statuses a job never leaves. */
export const finalJobStatuses = [
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'lost',
] as const satisfies readonly (typeof jobStatuses)[number][];

/** Job statuses before the job runs. */
export const waitingJobStatuses = [
  'pending_approval',
  'queued',
  'admitted',
] as const satisfies readonly (typeof jobStatuses)[number][];

/** The outcomes of admission. */
export const admissionOutcomes = ['admitted', 'queued', 'pending_approval', 'rejected'] as const;

/** Where a notebook is in its life. */
export const notebookStatuses = ['starting', 'running', 'stopping', 'stopped', 'failed'] as const;

/** Where an endpoint is in its life. */
export const endpointStatuses = ['ready', 'scaled_to_zero', 'starting', 'deleted'] as const;

/** Where an approval request is. */
export const approvalStatuses = ['pending', 'approved', 'denied', 'expired'] as const;

/** The closed set of error codes aicloud answers with, on the wire and in the CLI. */
export const errorCodes = [
  'invalid_input',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'policy_denied',
  'approval_required',
  'quota_exceeded',
  'budget_exceeded',
  'rate_limited',
  'unavailable',
  'internal',
] as const;
