import { lineageRoutes } from './lineage.ts';
import { pipelineRoutes } from './pipelines.ts';
import { providerRoutes } from './providers.ts';
import { approvalRoutes } from './routes/approval-routes.ts';
import { auditRoutes } from './routes/audit-routes.ts';
import { billRoutes } from './routes/bill-routes.ts';
import { catalogRoutes } from './routes/catalog-routes.ts';
import { endpointRoutes } from './routes/endpoint-routes.ts';
import { identityRoutes } from './routes/identity-routes.ts';
import { jobRoutes } from './routes/job-routes.ts';
import { modelRoutes } from './routes/model-routes.ts';
import { notebookRoutes } from './routes/notebook-routes.ts';
import { qualityRoutes } from './routes/quality-routes.ts';
import { workloadRoutes } from './routes/workload-routes.ts';

/**
 * Every `/v1` route of the aicloud API, by name: method, path, summary, tag and schemas. The server binds a
 * handler to each (`implement`), the OpenAPI description is generated from them, and the client calls them.
 */
export const routes = {
  ...identityRoutes,
  ...auditRoutes,
  ...catalogRoutes,
  ...jobRoutes,
  ...approvalRoutes,
  ...workloadRoutes,
  ...endpointRoutes,
  ...billRoutes,
  ...modelRoutes,
  ...notebookRoutes,
  ...pipelineRoutes,
  ...providerRoutes,
  ...lineageRoutes,
  ...qualityRoutes,
};

/** The name of a `/v1` route. */
export type RouteName = keyof typeof routes;
