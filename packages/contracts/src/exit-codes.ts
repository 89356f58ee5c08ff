// Plain values, no zod: the CLI imports this module (`@aicloud/contracts/exit-codes`) without the schemas.
import type { admissionOutcomes, errorCodes, jobStatuses } from './status-values.ts';

/** CLI exit code for each error code: the one table the CLI uses. */
export const exitCodeOf: Record<(typeof errorCodes)[number], number> = {
  invalid_input: 2,
  unauthenticated: 3,
  forbidden: 4,
  not_found: 5,
  conflict: 6,
  payload_too_large: 2,
  policy_denied: 10,
  approval_required: 11,
  quota_exceeded: 12,
  budget_exceeded: 13,
  rate_limited: 14,
  unavailable: 20,
  internal: 1,
};

/** CLI exit code for each admission outcome (a queued job waits for quota; a held one for a manager). */
export const admissionExitCodeOf: Record<(typeof admissionOutcomes)[number], number> = {
  admitted: 0,
  queued: exitCodeOf.quota_exceeded,
  pending_approval: exitCodeOf.approval_required,
  rejected: exitCodeOf.policy_denied,
};

/**
 * CLI exit code of a followed job's end (`jobs logs -f`, `create job --follow`): 0 succeeded, 15-18 ended
 * otherwise, 10 refused before it ran (approval denied or expired). Statuses not listed: still going.
 */
export const jobEndExitCodeOf: Partial<Record<(typeof jobStatuses)[number], number>> = {
  succeeded: 0,
  failed: 15,
  timed_out: 16,
  cancelled: 17,
  lost: 18,
  rejected: exitCodeOf.policy_denied,
};

/** CLI exit codes that are not API error codes (docs/cli.md, "Exit codes"). */
export const cliExitCodes = {
  /** A check the command ran failed (a policy test), or an error nobody expected. */
  failed: 1,
  /** A mistake in the command line itself (as `invalid_input`). */
  usage: exitCodeOf.invalid_input,
  /** The audit chain does not verify. */
  auditChainBroken: 7,
  /** You answered no at a prompt: nothing was done. */
  declined: 8,
} as const;
