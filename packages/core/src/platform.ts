import { join } from 'node:path';
import { createAdmissionController } from './admission/admission-controller.ts';
import { type ApprovalService, createApprovalService } from './admission/approval-service.ts';
import { createJobService, type JobService } from './admission/job-service.ts';
import { type AuditService, createAuditService } from './audit/audit-service.ts';
import { type BudgetService, createBudgetService } from './billing/budget-service.ts';
import { type CatalogService, createCatalogService } from './catalog/catalog-service.ts';
import { type Clock, systemClock } from './clock.ts';
import { createDatasetService, type DatasetService } from './datasets/dataset-service.ts';
import { createIdentityService, type IdentityService } from './identity/identity-service.ts';
import type { Authorizer } from './ports/authorizer.ts';
import { type SeedResult, seedDemo } from './seed/seed-demo.ts';
import { openStore, type Store } from './store/open-store.ts';

/** How to start the platform's core. */
export interface PlatformConfig {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** The demo organisation to seed on first start; null seeds nothing. */
  seedFile: string | null;
  clock?: Clock;
  /** Overrides the SQLite location. */
  sqliteFile?: string | undefined;
  /** Folder of the catalog's product YAML files; null loads none. */
  catalogDir: string | null;
  /** The policy engine (Cedar). */
  authorizer: Authorizer;
}

/** The services of one running platform, wired together. */
export interface Platform {
  config: PlatformConfig;
  store: Store;
  clock: Clock;
  audit: AuditService;
  identity: IdentityService;
  catalog: CatalogService;
  datasets: DatasetService;
  jobs: JobService;
  approvals: ApprovalService;
  budgets: BudgetService;
  authorizer: Authorizer;
  admission: ReturnType<typeof createAdmissionController>;
  seed: SeedResult;
  close(): Promise<void>;
}

/** Opens the store, runs migrations, wires the services and seeds the demo organisation once. */
export async function createPlatform(config: PlatformConfig): Promise<Platform> {
  const clock = config.clock ?? systemClock;
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    sqliteFile: config.sqliteFile,
  });
  try {
    const audit = createAuditService({ store, clock });
    const identity = createIdentityService({ store, audit, clock });
    const catalog = createCatalogService({ store, audit, clock });
    if (config.catalogDir) await catalog.syncFiles(config.catalogDir);
    const datasets = createDatasetService({ store, audit, clock });
    const authorizer = config.authorizer;
    const jobs = createJobService({ store, audit, clock, authorizer, catalog });
    const approvals = createApprovalService({ store, audit, clock, jobs, catalog });
    const budgets = createBudgetService({ store, audit, clock });
    const admission = createAdmissionController({ store, audit, clock });
    const seed = config.seedFile
      ? await seedDemo({
          store,
          identity,
          audit,
          clock,
          seedFile: config.seedFile,
          credentialsFile: join(config.dataDir, 'credentials.json'),
        })
      : { seeded: false, users: [], credentialsFile: null };
    return {
      config,
      store,
      clock,
      audit,
      identity,
      catalog,
      datasets,
      jobs,
      approvals,
      budgets,
      authorizer,
      admission,
      seed,
      close: () => store.close(),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
