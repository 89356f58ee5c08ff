/** The actions the policy engine decides on: every action that uses resources or crosses a trust line. */
export type PolicyAction =
  | 'submit_job'
  | 'extend_job'
  | 'cancel_job'
  | 'create_notebook'
  | 'snooze_notebook'
  | 'stop_notebook'
  | 'stop_idle_gpu_notebook'
  | 'deploy_endpoint'
  | 'register_model'
  | 'create_key'
  | 'call_provider';

/** The entity types of the schema an action is asked about. */
export type PolicyResourceType = 'Job' | 'Notebook' | 'Deployment' | 'ModelVersion' | 'ApiKey' | 'Provider';

/** The caller's role in the resource's team, as the platform computed it. */
export type TeamRole = 'member' | 'manager' | 'none';

/** The attributes of a job that policies may read; integers must stay within 2^53. */
export type JobAttributes = {
  team: string;
  owner: string;
  product: string;
  kind: string;
  gpus: number;
  gpuType: string;
  maxRuntimeSeconds: number;
  spot: boolean;
};

/** The attributes of a notebook; maxRuntimeSeconds is its maximum lifetime. */
export type NotebookAttributes = Omit<JobAttributes, 'spot'>;

/** The attributes of an endpoint deployment: the model version it serves and what it asks for. */
export type DeploymentAttributes = {
  team: string;
  owner: string;
  model: string;
  product: string;
  gpus: number;
  /** The security scan's verdict on the version: passed, needs_review, quarantined or blocked. */
  scanVerdict: string;
  trustRemoteCode: boolean;
  /** The source names a revision (a commit, a local path or a job's output), so remote code cannot change. */
  sourcePinned: boolean;
  /** The version's artifact lies on this platform. */
  hasArtifact: boolean;
};

/** The attributes of a model version being registered. */
export type ModelVersionAttributes = {
  team: string;
  owner: string;
  model: string;
  /** hf, path or job. */
  sourceKind: string;
  trustRemoteCode: boolean;
  sourcePinned: boolean;
};

/** The attributes of an API key being created. */
export type ApiKeyAttributes = {
  /** The user the key acts as. */
  owner: string;
  /** The team the key is limited to; empty for a user's own token. */
  team: string;
  /** api_token (a user's bearer token) or endpoint_key (a key to one endpoint). */
  kind: string;
};

/** The facts gathered before submitting or extending a job; the string arrays are Cedar sets. */
export type SubmitJobContext = {
  role: TeamRole;
  product: { name: string; maxGpus: number; minGpus: number; maxDurationSeconds: number };
  estimatedCostCents: number;
  /** remainingCents <= 0 means the budget is exhausted. */
  budget: { maxBudgetCents: number; remainingCents: number };
  unregisteredDatasets: string[];
  unclassifiedDatasets: string[];
  datasetsOutsideApprovedLocation: string[];
  unencryptedDatasets: string[];
  otherTeamDatasets: string[];
  /** An approval by a manager of the team exists for this job. */
  managerApproved: boolean;
  /** Ids of policies covered by an active, time-boxed policy exception. */
  exceptions: string[];
};

/** The facts gathered before creating or snoozing a notebook. */
export type NotebookContext = Pick<
  SubmitJobContext,
  'role' | 'product' | 'estimatedCostCents' | 'budget' | 'managerApproved' | 'exceptions'
>;

/** The facts gathered before deploying an endpoint. */
export type DeployContext = Pick<SubmitJobContext, 'role' | 'product' | 'budget' | 'exceptions'>;

/** The facts gathered before cancelling a job or stopping a notebook. */
export type CancelJobContext = { role: TeamRole };

/**
 * The facts the GPU sampler gathers when a notebook's GPUs stay idle, before the platform (principal
 * `system`) asks whether to stop the notebook early (`stop_idle_gpu_notebook`).
 */
export type IdleGpuNotebookContext = {
  /** Whole minutes every GPU the notebook holds has been under `thresholdPercent`. */
  idleMinutes: number;
  /** How many of its GPUs are idle (all it holds that the sampler sees). */
  gpus: number;
  /** The highest utilisation among them in the last sample, in percent. */
  utilizationPercent: number;
  /** The utilisation under which a GPU counts as idle, in percent. */
  thresholdPercent: number;
};

/** The facts gathered before registering a model version. */
export type RegisterModelContext = { role: TeamRole };

/** The facts gathered before creating an API key. */
export type CreateKeyContext = {
  role: TeamRole;
  /** The caller authenticated with a token limited to one resource (a job's run token). */
  scopedToken: boolean;
};

/** The facts gathered before a prompt goes to an external provider (`call_provider` on a Provider). */
export type CallProviderContext = {
  role: TeamRole;
  /** Datasets the request carries whose attested classification is confidential or pii. */
  restrictedDatasets: string[];
  /** Datasets it carries that are not registered to the team or have no attested classification. */
  unverifiedDatasets: string[];
};

/** One question to the policy engine: may this principal do this action on this resource, given this context. */
export interface PolicyRequest {
  principal: { name: string; platformAdmin: boolean; teams: string[] };
  action: PolicyAction;
  resource: { type: PolicyResourceType; id: string; attrs: Record<string, string | number | boolean> };
  /** The action's context record (SubmitJobContext, NotebookContext, …) as the schema declares it. */
  context: Record<string, unknown>;
}
