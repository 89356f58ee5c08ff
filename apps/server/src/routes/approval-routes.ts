import { basename } from 'node:path';
import { routes } from '@aicloud/contracts';
import { implement, type RouteDeps } from '../route.ts';

/** Approvals inbox, policy exceptions, active policies, budgets. */
export function approvalRoutes({ approvals, budgets, authorizer }: RouteDeps) {
  return [
    implement(routes.listApprovals, async ({ actor, query }) => ({
      items: await approvals.list(actor, query.status),
    })),
    implement(routes.approve, ({ actor, params, body }) => approvals.approve(actor, params.id, body.reason)),
    implement(routes.deny, ({ actor, params, body }) => approvals.deny(actor, params.id, body.reason)),
    implement(routes.listPolicyExceptions, async ({ actor }) => ({
      items: await approvals.listExceptions(actor),
    })),
    implement(routes.grantPolicyException, ({ actor, body }) => approvals.grantException(actor, body)),
    // Only the file's name: the server's folders are nobody's business.
    implement(routes.listPolicies, () => ({
      digest: authorizer.digest,
      items: authorizer.policies().map((policy) => ({ ...policy, file: basename(policy.file) })),
    })),
    implement(routes.getBudget, async ({ actor, params }) => ({
      budget: await budgets.show(actor, params.team),
    })),
    implement(routes.setBudget, ({ actor, params, body }) => budgets.set(actor, params.team, body)),
  ];
}
