/** One policy that took part in a decision. */
export interface PolicyHit {
  policyId: string;
  reason: string;
  outcome: 'deny' | 'require_approval' | 'warn';
  enforcement: 'deny' | 'warn' | 'dryrun';
}

/** What the policy engine answered. */
export interface PolicyDecision {
  outcome: 'allow' | 'deny' | 'require_approval' | 'warn';
  determining: PolicyHit[];
  warnings: PolicyHit[];
  /** Policies in dry-run that would have denied. */
  dryRun: PolicyHit[];
  policySetDigest: string;
  errors: string[];
}

/** Attributes of a job as policies see it. */
export interface JobPolicyAttributes {
  team: string;
  owner: string;
  product: string;
  kind: string;
  gpus: number;
  gpuType: string;
  maxRuntimeSeconds: number;
  spot: boolean;
}

/** A question for the policy engine. */
export interface PolicyRequest {
  principal: { name: string; platformAdmin: boolean; teams: string[] };
  action: 'submit_job' | 'cancel_job' | 'extend_job';
  resource: { type: 'Job'; id: string; attrs: JobPolicyAttributes };
  context: Record<string, unknown>;
}

/** The port to the policy engine (Cedar in production). It must fail closed: errors answer deny. */
export interface Authorizer {
  /** Decides one request. */
  authorize(request: PolicyRequest): PolicyDecision;
  /** Digest of the active policy set. */
  readonly digest: string;
  /** The active policies with their annotations, for `aicloud policy list`. */
  policies(): {
    id: string;
    file: string;
    reason: string;
    outcome: string;
    enforcement: string;
    effect: string;
  }[];
}
