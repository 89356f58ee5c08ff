import type { PolicyHit } from '@aicloud/contracts';

export type { PolicyHit };

/** What a decision tells the caller to do: go ahead, stop, wait for an approval, or go ahead with a message. */
export type Outcome = 'allow' | 'deny' | 'require_approval' | 'warn';

/** The answer to one authorization request, with the rules that gave it and the policy set that held them. */
export interface PolicyDecision {
  outcome: Outcome;
  /** The hits that set the outcome; empty for a plain allow. */
  determining: PolicyHit[];
  /** Ids of the satisfied `permit` policies, in file order: which rules allowed it (for the record). */
  permits: string[];
  /** Satisfied policies that only warn, whatever the outcome. */
  warnings: PolicyHit[];
  /** Satisfied policies in dry-run: what they would have done, never enforced. */
  dryRun: PolicyHit[];
  policySetDigest: string;
  /** Engine failures; when present the outcome is deny (fail closed). */
  errors: string[];
}
