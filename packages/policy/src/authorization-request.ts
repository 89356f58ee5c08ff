/** The actions the policy engine decides on. */
export type JobAction = 'submit_job' | 'cancel_job' | 'extend_job';

/** The caller's role in the job's team, as the platform computed it. */
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

/** The facts gathered before cancelling a job. */
export type CancelJobContext = { role: TeamRole };

/** One question to the policy engine: may this principal do this action on this job, given this context. */
export interface AuthorizationRequest {
  principal: { name: string; platformAdmin: boolean; teams: string[] };
  action: JobAction;
  resource: { type: 'Job'; id: string; attrs: JobAttributes };
  /** A SubmitJobContext for submit_job and extend_job, a CancelJobContext for cancel_job. */
  context: SubmitJobContext | CancelJobContext | Record<string, unknown>;
}
