import { z } from 'zod';

/** The outcome recorded with an audit record. */
export const AuditOutcome = z.enum(['success', 'allow', 'deny', 'hold', 'warn', 'dryrun_deny', 'failure']);
export type AuditOutcome = z.infer<typeof AuditOutcome>;

/** One record of the hash-chained audit trail. */
export const AuditRecord = z.object({
  seq: z.number(),
  id: z.string(),
  time: z.string(),
  actor: z.string(),
  action: z.string(),
  resource: z.string(),
  team: z.string().nullable(),
  outcome: AuditOutcome,
  requestId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

/** Filters for listing audit records; times are ISO 8601. */
export const AuditQuery = z.strictObject({
  actor: z.string().optional(),
  action: z.string().optional(),
  resource: z.string().optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

/** Result of verifying the whole chain. */
export const AuditVerifyResult = z.object({
  ok: z.boolean(),
  checked: z.number(),
  firstBad: z
    .object({
      seq: z.number(),
      id: z.string().nullable(),
      problem: z.enum(['edited', 'removed', 'reordered']),
      message: z.string(),
    })
    .nullable(),
});
export type AuditVerifyResult = z.infer<typeof AuditVerifyResult>;
