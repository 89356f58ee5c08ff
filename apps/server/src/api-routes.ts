import type { Platform } from '@aicloud/core';
import type { AnyRoute } from './route.ts';
import { alertRoutes } from './routes/alert-routes.ts';
import { approvalRoutes } from './routes/approval-routes.ts';
import { auditRoutes } from './routes/audit-routes.ts';
import { billRoutes } from './routes/bill-routes.ts';
import { catalogRoutes } from './routes/catalog-routes.ts';
import { endpointRoutes } from './routes/endpoint-routes.ts';
import { identityRoutes } from './routes/identity-routes.ts';
import { jobRoutes } from './routes/job-routes.ts';
import { lineageRoutes } from './routes/lineage-routes.ts';
import { modelRoutes } from './routes/model-routes.ts';
import { notebookRoutes } from './routes/notebook-routes.ts';
import { pipelineRoutes } from './routes/pipeline-routes.ts';
import { providerRoutes } from './routes/provider-routes.ts';
import { qualityRoutes } from './routes/quality-routes.ts';
import { telemetryRoutes } from './routes/telemetry-routes.ts';
import { workloadRoutes } from './routes/workload-routes.ts';

/** The `/v1` route table (platform tokens, the one error body): what `/v1/openapi.json` describes. */
export function apiRoutes(platform: Platform): AnyRoute[] {
  return [
    ...identityRoutes(platform),
    ...auditRoutes(platform),
    ...catalogRoutes(platform),
    ...jobRoutes(platform),
    ...approvalRoutes(platform),
    ...workloadRoutes(platform),
    ...endpointRoutes(platform),
    ...billRoutes(platform),
    ...modelRoutes(platform),
    ...notebookRoutes(platform),
    ...pipelineRoutes(platform),
    ...providerRoutes(platform),
    ...lineageRoutes(platform),
    ...alertRoutes(platform),
    ...qualityRoutes(platform),
    ...telemetryRoutes(platform),
  ];
}
