export type { ApprovalService } from './admission/approval-service.ts';
export { FINAL_STATES } from './admission/job-record.ts';
export type { JobService } from './admission/job-service.ts';
export {
  type AlertRule,
  AlertRuleSpec,
  loadAlertRules,
  parseAlertRules,
} from './alerts/alert-rules.ts';
export { ruleThreshold } from './alerts/alert-series.ts';
export { prometheusRuleFile, ruleExpr } from './alerts/prometheus-rules.ts';
export { type ApiAddress, createApiAddress } from './api-address.ts';
export { AppError, notFound } from './app-error.ts';
export type { AuditEntry, AuditScope, AuditService } from './audit/audit-service.ts';
export { auditHash, createAuditService } from './audit/audit-service.ts';
export * from './billing/index.ts';
export { appendUsage, categoryOfKind, type UsageEntry } from './billing/ledger.ts';
export { type Clock, isoNow, systemClock } from './clock.ts';
export { formatDuration, parseDuration } from './duration.ts';
export type { IdentityService } from './identity/identity-service.ts';
export { createIdentityService } from './identity/identity-service.ts';
export { type Actor, canSeeTeam, managesTeam, type Principal } from './identity/principal.ts';
export { newId } from './ids.ts';
export { fromMicros, toMicros } from './money.ts';
export type { PipelineService } from './pipelines/pipeline-service.ts';
export { createPlatform, type Platform, type PlatformConfig } from './platform.ts';
export type { Authorizer, PolicyDecision, PolicyRequest } from './ports/authorizer.ts';
export {
  detectPii,
  type PiiDetector,
  type PiiFinding,
  type PiiKind,
  redact,
} from './providers/pii-detector.ts';
export {
  createProviderGateway,
  type ProviderCall,
  type ProviderGateway,
} from './providers/provider-gateway.ts';
export { PLATFORM_SECRETS, type ProviderService } from './providers/provider-service.ts';
export { type QualityService, qualityOf } from './quality/quality-service.ts';
export { jobPaths } from './runner/job-paths.ts';
export type { JobRunner } from './runner/job-runner.ts';
export type { SecretService } from './secrets/secret-service.ts';
export { type SeedResult, seedDemo, writeSecretFile } from './seed/seed-demo.ts';
export { createGatewayFront } from './serving/gateway.ts';
export {
  type Channel,
  remoteAdmission,
  serveGatewayWorker,
  type ToPrimary,
  type ToWorker,
} from './serving/gateway-workers.ts';
export {
  ensureDataDir,
  openStore,
  type Store,
  type StoreDialect,
  type StoreOptions,
} from './store/open-store.ts';
export type { Database } from './store/schema.ts';
export { jobGpuSeries, type WorkloadGpuSeries } from './telemetry/gpu-series.ts';
export {
  createObservability,
  type Observability,
  type ObservabilityOptions,
  observabilityOf,
  startObservability,
} from './telemetry/observability.ts';
export * from './tracking/index.ts';
export { createWorkloadQueries, type WorkloadQueries } from './workloads/workload-queries.ts';
