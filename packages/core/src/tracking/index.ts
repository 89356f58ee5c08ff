export {
  type ArtifactUpload,
  DEFAULT_ARTIFACT_MAX_BYTES,
  writeRunArtifact,
} from './artifact-upload.ts';
export {
  type JobMetricEvent,
  type JobRunRecorder,
  type JobRunStart,
  recordJobRuns,
} from './job-run-recorder.ts';
export { MLFLOW_HTTP_STATUS, type MlflowErrorCode, mlflowCodeOf, mlflowError } from './mlflow-error.ts';
export { type FilterClause, parseFilter, parseOrderBy } from './mlflow-filter.ts';
export type { MlflowInput } from './mlflow-input.ts';
export { createRegistryBridge, type RegistryBridge } from './registry-bridge.ts';
export type { MlflowModelVersion, MlflowRegisteredModel } from './registry-json.ts';
export { type ArtifactListing, cleanArtifactPath, listRunArtifacts, resolveUnder } from './run-artifacts.ts';
export { createTrackingService, TEAM_TAG, type TrackingService } from './tracking-service.ts';
export type * from './tracking-types.ts';
