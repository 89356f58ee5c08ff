import { AuditQuery, AuditRecord, AuditVerifyResult } from '@aicloud/contracts';
import { AppError } from '@aicloud/core';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** The audit trail: filtered listing for everyone (within what they may see), verification for platform-admins. */
export function auditRoutes({ audit }: RouteDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/audit',
      summary:
        'Audit records, newest first: all for platform-admins, your teams’ for managers, your own otherwise',
      tag: 'audit',
      query: AuditQuery,
      response: z.object({ items: z.array(AuditRecord) }),
      handler: async ({ actor, query }) => {
        const { principal } = actor;
        const managed = [...principal.teams].filter(([, role]) => role === 'manager').map(([team]) => team);
        const items = await audit.list(query, {
          all: principal.platformAdmin,
          teams: managed,
          actor: principal.userName,
        });
        return { items };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/audit/verify',
      summary: 'Verify the whole hash chain and name the first bad record (platform-admins only)',
      tag: 'audit',
      response: AuditVerifyResult,
      handler: async ({ actor }) => {
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
      },
    }),
  ];
}
