// Plain values, no zod: the CLI imports this module (`@aicloud/contracts/exit-codes`) without the schemas.
import type { admissionOutcomes, errorCodes } from './status-values.ts';

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

/** CLI exit codes that are not API error codes (docs/cli.md, "Exit codes"). */
export const cliExitCodes = {
  /** A command's own check failed (a policy test, a job that did not succeed). */
  failed: 1,
  /** The audit chain does not verify. */
  auditChainBroken: 7,
  /** You answered no at a prompt: nothing was done. */
  declined: 8,
} as const;
