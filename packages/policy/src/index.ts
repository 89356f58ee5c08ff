export type {
  AuthorizationRequest,
  CancelJobContext,
  JobAction,
  JobAttributes,
  SubmitJobContext,
  TeamRole,
} from './authorization-request.ts';
export type { Authorizer, PolicyInfo, ReloadResult } from './authorizer.ts';
export { type CedarEngine, cedarEngine } from './cedar-engine.ts';
export { type CedarAuthorizerOptions, createCedarAuthorizer } from './create-cedar-authorizer.ts';
export type { Decision, Outcome, PolicyHit } from './decision.ts';
export type { PolicyTestCase } from './decision-table.ts';
export { defaultPoliciesDir } from './default-policies-dir.ts';
export { explain } from './explain.ts';
export {
  type PolicyTestOptions,
  type PolicyTestReport,
  type PolicyTestResult,
  runPolicyTests,
} from './run-policy-tests.ts';
