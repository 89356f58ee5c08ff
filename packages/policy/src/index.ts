export type { Authorizer, CedarAuthorizer, PolicyInfo, ReloadResult } from './authorizer.ts';
export { type CedarEngine, cedarEngine } from './cedar-engine.ts';
export { type CedarAuthorizerOptions, createCedarAuthorizer } from './create-cedar-authorizer.ts';
export type { PolicyTestCase } from './decision-table.ts';
export { defaultPoliciesDir } from './default-policies-dir.ts';
export { explain } from './explain.ts';
export { engineError, engineFailure, failClosed } from './fail-closed.ts';
export type { Outcome, PolicyDecision, PolicyHit } from './policy-decision.ts';
export type {
  ApiKeyAttributes,
  CallProviderContext,
  CancelJobContext,
  CreateKeyContext,
  DeployContext,
  DeploymentAttributes,
  IdleGpuNotebookContext,
  JobAttributes,
  ModelVersionAttributes,
  NotebookAttributes,
  NotebookContext,
  PolicyAction,
  PolicyRequest,
  PolicyResourceType,
  RegisterModelContext,
  SubmitJobContext,
  TeamRole,
} from './policy-request.ts';
export {
  type PolicyTestOptions,
  type PolicyTestReport,
  type PolicyTestResult,
  runPolicyTests,
} from './run-policy-tests.ts';
