import { routes } from '@aicloud/contracts';
import { AppError } from '@aicloud/core';
import { implement, type RouteDeps } from '../route.ts';

/** The audit trail: filtered listing for everyone (within what they may see), verification for platform-admins. */
export function auditRoutes({ audit }: RouteDeps) {
  return [
    implement(routes.listAudit, async ({ actor, query }) => {
      const { principal } = actor;
      const managed = [...principal.teams].filter(([, role]) => role === 'manager').map(([team]) => team);
      const items = await audit.list(query, {
        all: principal.platformAdmin,
        teams: managed,
        actor: principal.userName,
      });
      return { items };
    }),
    implement(routes.verifyAudit, async ({ actor }) => {
      if (!actor.principal.platformAdmin) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'audit.verify',
          resource: 'audit',
          outcome: 'deny',
          requestId: actor.requestId,
        });
        throw new AppError('forbidden', 'only platform-admins verify the whole audit chain');
      }
      return audit.verify();
    }),
  ];
}
