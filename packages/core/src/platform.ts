import { join } from 'node:path';
import { type Executor, slurmAccountProblem } from '@aicloud/executors';
import { createAdmissionController } from './admission/admission-controller.ts';
import { type ApprovalService, createApprovalService } from './admission/approval-service.ts';
import { createJobService, type JobService } from './admission/job-service.ts';
import { type ApiAddress, createApiAddress } from './api-address.ts';
import { AppError } from './app-error.ts';
import { type AuditService, createAuditService } from './audit/audit-service.ts';
import { budgetAlertTick } from './billing/budget-alerts.ts';
import { type BudgetService, createBudgetService } from './billing/budget-service.ts';
import { storageTick } from './billing/storage-meter.ts';
import { allowedHostProblem } from './billing/webhook-guard.ts';
import { createWebhookSettings, type WebhookSettings } from './billing/webhook-settings.ts';
import { type CatalogService, createCatalogService } from './catalog/catalog-service.ts';
import { type Clock, systemClock } from './clock.ts';
import { createDatasetService, type DatasetService } from './datasets/dataset-service.ts';
import { createIdentityService, type IdentityService } from './identity/identity-service.ts';
import { createLineageService, type LineageService } from './lineage/lineage-service.ts';
import { createNotebookService, type NotebookService } from './notebooks/notebook-service.ts';
import {
  createPipelineService,
  ownerActor,
  type PipelineService,
  pipelineInputs,
} from './pipelines/pipeline-service.ts';
import type { Authorizer } from './ports/authorizer.ts';
import { createProviderGateway, type ProviderGateway } from './providers/provider-gateway.ts';
import { createProviderService, type ProviderService } from './providers/provider-service.ts';
import { qualityOf } from './quality/quality-service.ts';
import { createModelService, type ModelService } from './registry/model-service.ts';
import { createJobRunner, type JobRunner } from './runner/job-runner.ts';
import { openSecretBox } from './secrets/secret-box.ts';
import { createSecretService, type SecretService } from './secrets/secret-service.ts';
import { type SeedResult, seedDemo } from './seed/seed-demo.ts';
import { createEndpointService, type EndpointService } from './serving/endpoint-service.ts';
import { createGateway, type Gateway } from './serving/gateway.ts';
import { createReplicaPool, type ReplicaPool } from './serving/replica-pool.ts';
import { createRolloutService, type RolloutService } from './serving/rollout-service.ts';
import { type RuntimeTemplate, runtimeTemplates } from './serving/runtimes.ts';
import { ensureDataDir, openStore, type Store } from './store/open-store.ts';
import { recordJobSpan } from './telemetry/job-span.ts';
import { createPipelineTracing } from './telemetry/pipeline-tracing.ts';
import { createTelemetry, type Telemetry, type TelemetryOptions } from './telemetry/telemetry.ts';
import { traceJobSubmissions } from './telemetry/traced-job-service.ts';
import { recordJobRuns } from './tracking/job-run-recorder.ts';
import { createWorkloadSupervisor, type WorkloadSupervisor } from './workloads/workload-supervisor.ts';

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
  /**
   * The executors workloads run on, by the name a product's `executor` gives (`local`, `slurm`); built by
   * the composition root (`apps/server`), shared by jobs, replicas and notebooks, shut down by `close()`.
   */
  executors: Record<string, Executor>;
  /** Where workloads reach the API: the holder the local executor's sandbox was built with; a new one when absent. */
  apiAddress?: ApiAddress;
  /** How often running work accrues into the ledger (default 30 s). */
  meterIntervalMs?: number;
  /** Where the repository is (for the example model server's runtime); defaults to this checkout. */
  repoRoot?: string;
  /** How long a request waits for a replica to start (default 120 s). */
  coldStartTimeoutMs?: number;
  /** The cluster account (Slurm `--account`) of each team's jobs by team name; a team not listed: its own name. */
  slurmAccounts?: Record<string, string> | undefined;
  /** Extra model runtimes (name → command template), e.g. a site's own inference server. */
  runtimes?: Record<string, RuntimeTemplate>;
  /**
   * Directories each team may register `path:` model sources from (team → absolute dirs), besides the
   * default `<dataDir>/imports/<team>`; nothing else on the server is readable as a source.
   */
  importRoots?: Record<string, string[]> | undefined;
  /** The cap on the bytes one model registration copies (default 20 GiB). */
  importMaxBytes?: number | undefined;
  /**
   * Where webhooks (budget alerts) may go: host names (`*.example.com` for subdomains), IP addresses and
   * CIDR ranges; none when empty. Link-local and metadata addresses are always refused, loopback and
   * private ones unless an address or range here lists them (`aicloud up --webhook-allow-host`).
   */
  webhookAllowedHosts?: string[] | undefined;
  /** A pipeline step's first retry delay, doubled per attempt (default 10 s). */
  pipelineRetryBaseMs?: number | undefined;
  /** OpenTelemetry: OTLP/HTTP export when `otlpEndpoint` is set; `enabled: false` records nothing. */
  telemetry?: TelemetryOptions | undefined;
  /** The cap on one file uploaded through MLflow's artifact proxy (default 1 GiB). */
  mlflowArtifactMaxBytes?: number | undefined;
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
  /** The budget alerts' webhook URL, checked against `webhookAllowedHosts`. */
  webhooks: WebhookSettings;
  authorizer: Authorizer;
  admission: ReturnType<typeof createAdmissionController>;
  secrets: SecretService;
  runner: JobRunner;
  /** The model registry: scanned, immutable versions, aliases, lineage. */
  models: ModelService;
  /** Cost-capped Jupyter notebooks (idle stop, max lifetime, egress blocked) and their proxy checks. */
  notebooks: NotebookService;
  /** Private OpenAI-compatible endpoints, their replicas and keys. */
  endpoints: EndpointService;
  replicas: ReplicaPool;
  /** The OpenAI-compatible data plane. */
  gateway: Gateway;
  /** Canary rollouts of new endpoint versions: analysis, promotion, rollback. */
  rollouts: RolloutService;
  /** The platform's OpenTelemetry (GenAI metrics, gateway and admission spans). */
  telemetry: Telemetry;
  /** External AI providers (platform-admins register them). */
  providers: ProviderService;
  /** `<provider>/<model>` on the data plane: PII detector (fail closed), policy, quota, budget, fallbacks. */
  providerGateway: ProviderGateway;
  /** Pipelines: DAGs of steps, each an ordinary job. */
  pipelines: PipelineService;
  /** Lineage as one graph: datasets → pipeline runs → jobs → model versions → endpoints. */
  lineage: LineageService;
  /** The one subscriber to the executors' events, dispatching them to jobs, notebooks and replicas. */
  workloads: WorkloadSupervisor;
  /** Re-attaches what ran before a restart: jobs, then notebooks, then replicas (call once the server URL is set). */
  reattach(): Promise<void>;
  /** Tells workloads where the API is, once the server listens. */
  setServerUrl(url: string): void;
  /** The API's unix socket, bound into sandboxes whose egress is `platform`. */
  setServerSocket(path: string | undefined): void;
  /** One pass of every controller: approvals expiry, admission, starting and metering jobs. */
  tick(): Promise<void>;
  seed: SeedResult;
  close(): Promise<void>;
}

/** Opens the store, runs migrations, wires the services and seeds the demo organisation once. */
export async function createPlatform(config: PlatformConfig): Promise<Platform> {
  const clock = config.clock ?? systemClock;
  const webhookAllowedHosts = config.webhookAllowedHosts ?? [];
  for (const entry of webhookAllowedHosts) {
    const problem = allowedHostProblem(entry);
    if (problem) throw new AppError('invalid_input', `webhookAllowedHosts: ${problem}`);
  }
  for (const [team, account] of Object.entries(config.slurmAccounts ?? {})) {
    const problem = slurmAccountProblem(account);
    if (problem) throw new AppError('invalid_input', `slurm.accounts.${team}: ${problem}`);
  }
  const executors = config.executors;
  const local = executors.local;
  if (!local) {
    throw new AppError(
      'invalid_input',
      `notebooks run on the local executor, which this platform lacks (it has: ${Object.keys(executors).join(', ') || 'none'})`,
    );
  }
  const apiAddress = config.apiAddress ?? createApiAddress();
  ensureDataDir(config.dataDir);
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    sqliteFile: config.sqliteFile,
  });
  try {
    const audit = createAuditService({ store, clock });
    const identity = createIdentityService({ store, audit, clock, authorizer: config.authorizer });
    const catalog = createCatalogService({ store, audit, clock });
    if (config.catalogDir) await catalog.syncFiles(config.catalogDir);
    const datasets = createDatasetService({ store, audit, clock, dataDir: config.dataDir });
    const authorizer = config.authorizer;
    const serverUrl = apiAddress.url;
    const secrets = createSecretService({
      store,
      audit,
      clock,
      box: openSecretBox(join(config.dataDir, 'secret.key')),
    });
    const repoRoot = config.repoRoot ?? join(import.meta.dirname, '../../..');
    let runner: JobRunner | undefined;
    const telemetry = createTelemetry(config.telemetry);
    const jobs = traceJobSubmissions(
      createJobService({
        store,
        audit,
        clock,
        authorizer,
        catalog,
        stopRunning: (id, reason) => runner!.stop(id, reason),
        executorNames: () => Object.keys(executors),
        onAdmitted: () => void runner?.startAdmitted().catch(() => {}),
      }),
      telemetry,
    );
    const approvals = createApprovalService({
      store,
      audit,
      clock,
      jobs,
      catalog,
      onAdmitted: () => void runner?.startAdmitted().catch(() => {}),
    });
    const budgets = createBudgetService({ store, audit, clock });
    const webhooks = createWebhookSettings({ store, audit, clock, allowedHosts: webhookAllowedHosts });
    const admission = createAdmissionController({ store, audit, clock });
    const models = createModelService({
      store,
      audit,
      clock,
      dataDir: config.dataDir,
      importRoots: config.importRoots,
      importMaxBytes: config.importMaxBytes,
      authorizer: config.authorizer,
    });
    runner = createJobRunner({
      store,
      audit,
      clock,
      identity,
      catalog,
      secrets,
      executors,
      accounts: config.slurmAccounts,
      dataDir: config.dataDir,
      serverUrl,
      meterIntervalMs: config.meterIntervalMs,
      tracking: recordJobRuns({ store, clock, dataDir: config.dataDir }),
      onJobEnded: async (job) => {
        recordJobSpan(telemetry, job);
        await models.onJobEnded(job);
      },
      inputsOf: (jobId) => pipelineInputs(store, config.dataDir, jobId),
      traceparentOf: (jobId) => telemetry.jobTraceparent(jobId),
    });
    const jobRunner = runner;
    const notebooks = createNotebookService({
      store,
      audit,
      clock,
      catalog,
      identity,
      authorizer,
      // Notebooks still run where their Jupyter's network namespace is: this machine.
      executor: local,
      dataDir: config.dataDir,
      box: openSecretBox(join(config.dataDir, 'secret.key')),
      serverUrl,
      meterIntervalMs: config.meterIntervalMs,
    });
    const runtimes = {
      ...runtimeTemplates(repoRoot),
      ...config.runtimes,
    };
    const replicas = createReplicaPool({
      store,
      audit,
      clock,
      catalog,
      executors,
      dataDir: config.dataDir,
      runtimes,
      meterIntervalMs: config.meterIntervalMs,
      coldStartTimeoutMs: config.coldStartTimeoutMs,
    });
    // One subscriber to every executor's events; each kind registers its part.
    const workloads = createWorkloadSupervisor({ executors });
    for (const handler of [jobRunner.workload, notebooks.workload, replicas.workload])
      workloads.register(handler);
    const gateway = createGateway({ store, clock, pool: replicas, runtimes, telemetry });
    const providers = createProviderService({ store, audit, clock });
    const endpoints = createEndpointService({
      store,
      audit,
      clock,
      catalog,
      models,
      pool: replicas,
      runtimes,
      publicUrl: serverUrl,
      authorizer,
      onKeyRevoked: (hash) => gateway.forgetKey(hash),
      onRoutesChanged: () => gateway.forgetRoutes(),
    });
    const pipelines = createPipelineService({
      store,
      clock,
      jobs,
      dataDir: config.dataDir,
      actorOf: (name) => ownerActor(store, name),
      retryBaseMs: config.pipelineRetryBaseMs,
      models,
      tracing: createPipelineTracing(telemetry),
    });
    const lineage = createLineageService({ store, clock, models });
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
    const rollouts = createRolloutService({
      store,
      audit,
      clock,
      pool: replicas,
      onRoutesChanged: () => gateway.forgetRoutes(),
      // The quality service calls the platform's own gateway, so it is the platform's (built below).
      compareQuality: (stable, canary) => qualityOf(platform).compareVersions(stable, canary),
    });
    const platform: Platform = {
      config,
      store,
      clock,
      audit,
      rollouts,
      identity,
      catalog,
      datasets,
      jobs,
      approvals,
      budgets,
      webhooks,
      authorizer,
      admission,
      secrets,
      runner: jobRunner,
      models,
      notebooks,
      endpoints,
      replicas,
      gateway,
      telemetry,
      providers,
      providerGateway: createProviderGateway({
        store,
        clock,
        audit,
        authorizer,
        identity,
        secrets,
        providers,
        gateway,
      }),
      pipelines,
      lineage,
      workloads,
      reattach: () => workloads.reattach(),
      seed,
      setServerUrl: apiAddress.setUrl,
      setServerSocket: apiAddress.setSocket,
      async tick() {
        await approvals.expire();
        await admission.tick();
        await jobRunner.tick();
        await pipelines.tick();
        await notebooks.tick();
        await replicas.tick();
        await rollouts.tick();
        // One metering pass over every kind of workload, after the kinds' own passes started and stopped theirs.
        await workloads.meter(clock.now());
        await gateway.flush();
        await storageTick({ store, clock, dataDir: config.dataDir });
        await budgetAlertTick({
          store,
          audit,
          clock,
          stopJob: (id) => jobRunner.stop(id, 'cancelled'),
          webhookAllowedHosts,
        });
      },
      async close() {
        workloads.close();
        await jobRunner.shutdown();
        // Workloads keep running: the next start re-attaches them.
        for (const executor of Object.values(executors)) await executor.shutdown();
        await notebooks.close();
        await gateway.flush().catch(() => {});
        await gateway.close();
        await telemetry.shutdown();
        await replicas.shutdown();
        await store.close();
      },
    };
    return platform;
  } catch (error) {
    await store.close();
    throw error;
  }
}
