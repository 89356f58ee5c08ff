import { basename } from 'node:path';
import {
  Admission,
  Approval,
  Budget,
  CreatePolicyExceptionRequest,
  DecideApprovalRequest,
  PolicyException,
  SetBudgetRequest,
} from '@aicloud/contracts';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** Approvals inbox, policy exceptions, active policies, budgets. */
export function approvalRoutes({ approvals, budgets, authorizer }: RouteDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/approvals',
      summary: "Approval requests of the caller's teams",
      tag: 'approvals',
      query: z.strictObject({ status: z.enum(['pending', 'approved', 'denied', 'expired']).optional() }),
      response: z.object({ items: z.array(Approval) }),
      handler: async ({ actor, query }) => ({ items: await approvals.list(actor, query.status) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/approvals/:id/approve',
      summary: 'Approve a held job (a manager of its team); admission resumes at once',
      tag: 'approvals',
      body: DecideApprovalRequest,
      response: z.object({ approval: Approval, admission: Admission }),
      handler: ({ actor, params, body }) => approvals.approve(actor, params.id!, body.reason),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/approvals/:id/deny',
      summary: 'Deny a held job (a manager of its team)',
      tag: 'approvals',
      body: DecideApprovalRequest,
      response: Approval,
      handler: ({ actor, params, body }) => approvals.deny(actor, params.id!, body.reason),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/policy/exceptions',
      summary: 'Time-boxed policy exceptions',
      tag: 'policy',
      response: z.object({ items: z.array(PolicyException) }),
      handler: async ({ actor }) => ({ items: await approvals.listExceptions(actor) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/policy/exceptions',
      summary: 'Grant a time-boxed exception to one policy for one team (platform-admins)',
      tag: 'policy',
      body: CreatePolicyExceptionRequest,
      response: PolicyException,
      status: 201,
      handler: ({ actor, body }) => approvals.grantException(actor, body),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/policies',
      summary: 'The active policy set: digest and policies with their annotations',
      tag: 'policy',
      response: z.object({ digest: z.string(), items: z.array(z.record(z.string(), z.unknown())) }),
      // Only the file's name: the server's folders are nobody's business.
      handler: () => ({
        digest: authorizer.digest,
        items: authorizer.policies().map((policy) => ({ ...policy, file: basename(policy.file) })),
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/budgets/:team',
      summary: "A team's budget in the current period: spent, committed, remaining",
      tag: 'budgets',
      response: z.object({ budget: Budget.nullable() }),
      handler: async ({ actor, params }) => ({ budget: await budgets.show(actor, params.team!) }),
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/budgets/:team',
      summary: "Set a team's budget (its managers, within the ceiling; the ceiling: platform-admins)",
      tag: 'budgets',
      body: SetBudgetRequest,
      response: Budget,
      handler: ({ actor, params, body }) => budgets.set(actor, params.team!, body),
    }),
  ];
}
