import { z } from 'zod';
import { MAX_DURATION_SECONDS } from './duration.ts';
import { approvalStatuses } from './status-values.ts';
import { UsdAmount } from './usd-amount.ts';

/** Where an approval request is. */
export const ApprovalStatus = z.enum(approvalStatuses);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

/** An approval request for a job a policy held. */
export const Approval = z.object({
  id: z.string(),
  jobId: z.string(),
  team: z.string(),
  requestedBy: z.string(),
  approvers: z.array(z.string()),
  rules: z.array(z.string()),
  status: ApprovalStatus,
  decidedBy: z.string().nullable(),
  reason: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  decidedAt: z.string().nullable(),
});
export type Approval = z.infer<typeof Approval>;

/** Approve or deny, with an optional reason. */
export const DecideApprovalRequest = z.strictObject({ reason: z.string().max(1000).optional() });

/** One policy of the active set as its annotations describe it; `file` is the file's name only. */
export const ActivePolicy = z.object({
  id: z.string(),
  file: z.string(),
  reason: z.string(),
  outcome: z.enum(['allow', 'deny', 'require_approval', 'warn']),
  enforcement: z.enum(['deny', 'warn', 'dryrun']),
  effect: z.enum(['permit', 'forbid']),
});
export type ActivePolicy = z.infer<typeof ActivePolicy>;

/** A time-boxed exception to one policy for one team, granted by a platform-admin. */
export const PolicyException = z.object({
  id: z.string(),
  policyId: z.string(),
  team: z.string(),
  description: z.string(),
  expiresAt: z.string(),
  grantedBy: z.string(),
  createdAt: z.string(),
});
export type PolicyException = z.infer<typeof PolicyException>;

/** Grant an exception. */
export const CreatePolicyExceptionRequest = z.strictObject({
  policyId: z.string().min(1),
  team: z.string().min(1),
  description: z.string().min(3).max(1000),
  expiresAt: z.iso.datetime({ offset: true }),
});
export type CreatePolicyExceptionRequest = z.infer<typeof CreatePolicyExceptionRequest>;

/** A team's budget for a period, in USD. */
export const Budget = z.object({
  team: z.string(),
  maxBudget: z.number(),
  softBudget: z.number().nullable(),
  budgetDuration: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  spent: z.number(),
  committed: z.number(),
  remaining: z.number(),
});
export type Budget = z.infer<typeof Budget>;

/** A budget's period: calendar months (`1mo`) or fixed windows (`30d`, `12h`), from one hour to ten years. */
export const BudgetDuration = z
  .string()
  .superRefine((text, context) => {
    const match = /^(\d+)(mo|d|h)$/.exec(text);
    if (!match) {
      context.addIssue({ code: 'custom', message: 'must be a period such as 1mo, 30d or 12h' });
      return;
    }
    const count = Number(match[1]);
    const max = { mo: 120, d: MAX_DURATION_SECONDS / 86_400, h: MAX_DURATION_SECONDS / 3600 }[match[2]!]!;
    if (count < 1) context.addIssue({ code: 'custom', message: 'must be at least 1h' });
    else if (count > max) context.addIssue({ code: 'custom', message: `must be at most ${max}${match[2]}` });
  })
  .meta({ examples: ['1mo', '30d', '7d', '12h'] });

/** Set a team's budget (USD); the soft budget (an early alert) is at most the budget. */
export const SetBudgetRequest = z
  .strictObject({
    maxBudget: UsdAmount,
    softBudget: UsdAmount.nullable().optional(),
    budgetDuration: BudgetDuration.optional(),
    /** The most its managers may set; platform-admins only. */
    ceiling: UsdAmount.nullable().optional(),
  })
  .superRefine((request, context) => {
    if (typeof request.softBudget === 'number' && request.softBudget > request.maxBudget)
      context.addIssue({
        code: 'custom',
        path: ['softBudget'],
        message: `must be at most the budget (${request.maxBudget})`,
      });
  });
export type SetBudgetRequest = z.infer<typeof SetBudgetRequest>;

/** A team's nominal GPU quota per GPU type, and its use. */
export const Quota = z.object({
  team: z.string(),
  gpuType: z.string(),
  nominal: z.number(),
  used: z.number(),
});
export type Quota = z.infer<typeof Quota>;
