// The Authorizer port and the policy decision types are declared once, in @aicloud/policy beside the Cedar
// adapter (as the Executor port lives in @aicloud/executors); core imports them from here.
export type {
  Authorizer,
  DeployContext,
  DeploymentAttributes,
  IdleGpuNotebookContext,
  NotebookContext,
  PolicyDecision,
  PolicyHit,
  PolicyRequest,
  TeamRole,
} from '@aicloud/policy';
export { engineError, failClosed } from '@aicloud/policy';
