import { z } from 'zod';
import { errorCodes } from './status-values.ts';

/** The closed set of error codes aicloud answers with, on the wire and in the CLI. */
export const ErrorCode = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** HTTP status for each error code: the one table routes use. */
export const httpStatusOf: Record<ErrorCode, number> = {
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  policy_denied: 403,
  approval_required: 202,
  quota_exceeded: 429,
  budget_exceeded: 402,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** One problem with one field of a request, with its path (`["spec", "gpus"]`). */
export const FieldIssue = z.object({
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
});
export type FieldIssue = z.infer<typeof FieldIssue>;

/** The one error body of the `/v1` API. */
export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    issues: z.array(FieldIssue).optional(),
    details: z.record(z.string(), z.unknown()).optional(),
    requestId: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
