import { AuditQuery, AuditRecord, AuditVerifyResult } from '../audit.ts';
import { contractRoute, itemsOf } from '../contract-route.ts';

/** The audit trail: filtered listing for everyone (within what they may see), verification for platform-admins. */
export const auditRoutes = {
  listAudit: contractRoute({
    method: 'GET',
    path: '/v1/audit',
    summary:
      'Audit records, newest first: all for platform-admins, your teams’ for managers, your own otherwise',
    tag: 'audit',
    query: AuditQuery,
    response: itemsOf(AuditRecord),
  }),
  verifyAudit: contractRoute({
    method: 'POST',
    path: '/v1/audit/verify',
    summary: 'Verify the whole hash chain and name the first bad record (platform-admins only)',
    tag: 'audit',
    response: AuditVerifyResult,
  }),
};
