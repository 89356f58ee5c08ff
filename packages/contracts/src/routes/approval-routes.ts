import { z } from 'zod';
import {
  ActivePolicy,
  Approval,
  ApprovalStatus,
  Budget,
  CreatePolicyExceptionRequest,
  DecideApprovalRequest,
  PolicyException,
  SetBudgetRequest,
} from '../approvals.ts';
import { contractRoute, itemsOf } from '../contract-route.ts';
import { Admission } from '../jobs.ts';

/** Approvals inbox, policy exceptions, active policies, budgets. */
export const approvalRoutes = {
  listApprovals: contractRoute({
    method: 'GET',
    path: '/v1/approvals',
    summary: "Approval requests of the caller's teams",
    tag: 'approvals',
    query: z.strictObject({ status: ApprovalStatus.optional() }),
    response: itemsOf(Approval),
  }),
  approve: contractRoute({
    method: 'POST',
    path: '/v1/approvals/:id/approve',
    summary: 'Approve a held job (a manager of its team); admission resumes at once',
    tag: 'approvals',
    body: DecideApprovalRequest,
    response: z.object({ approval: Approval, admission: Admission }),
  }),
  deny: contractRoute({
    method: 'POST',
    path: '/v1/approvals/:id/deny',
    summary: 'Deny a held job (a manager of its team)',
    tag: 'approvals',
    body: DecideApprovalRequest,
    response: Approval,
  }),
  listPolicyExceptions: contractRoute({
    method: 'GET',
    path: '/v1/policy/exceptions',
    summary: 'Time-boxed policy exceptions',
    tag: 'policy',
    response: itemsOf(PolicyException),
  }),
  grantPolicyException: contractRoute({
    method: 'POST',
    path: '/v1/policy/exceptions',
    summary: 'Grant a time-boxed exception to one policy for one team (platform-admins)',
    tag: 'policy',
    body: CreatePolicyExceptionRequest,
    response: PolicyException,
    status: 201,
  }),
  listPolicies: contractRoute({
    method: 'GET',
    path: '/v1/policies',
    summary: 'The active policy set: digest and policies with their annotations',
    tag: 'policy',
    response: z.object({ digest: z.string(), items: z.array(ActivePolicy) }),
  }),
  getBudget: contractRoute({
    method: 'GET',
    path: '/v1/budgets/:team',
    summary: "A team's budget in the current period: spent, committed, remaining",
    tag: 'budgets',
    response: z.object({ budget: Budget.nullable() }),
  }),
  setBudget: contractRoute({
    method: 'PUT',
    path: '/v1/budgets/:team',
    summary: "Set a team's budget (its managers, within the ceiling; the ceiling: platform-admins)",
    tag: 'budgets',
    body: SetBudgetRequest,
    response: Budget,
  }),
};
