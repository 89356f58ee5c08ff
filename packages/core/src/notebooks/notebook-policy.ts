import type { Product } from '@aicloud/contracts';
import type { BudgetState } from '../admission/team-usage.ts';
import type { Actor } from '../identity/principal.ts';
import { microsToCents } from '../money.ts';
import type { Authorizer, PolicyDecision, PolicyRequest } from '../ports/authorizer.ts';

/** Cedar Longs must stay within 2^53; an absent budget is this many cents (as for jobs). */
const UNLIMITED_CENTS = 1_000_000_000_000;

/** A notebook as the policies see it: a Job of kind `notebook` whose runtime is its max lifetime. */
export interface NotebookPolicySubject {
  id: string;
  team: string;
  owner: string;
  product: Product;
  gpus: number;
  gpuType: string | null;
  maxLifetimeSeconds: number;
}

/** Facts for `submit_job` (create) and `extend_job` (snooze). */
export interface NotebookPolicyFacts {
  /** What the asked-for time costs at most, in micro-dollars. */
  estimateMicros: number;
  budget: BudgetState | null;
  exceptions: string[];
}

function principalOf(actor: Actor): PolicyRequest['principal'] {
  return {
    name: actor.principal.userName,
    platformAdmin: actor.principal.platformAdmin,
    teams: [...actor.principal.teams.keys()],
  };
}

function resourceOf(subject: NotebookPolicySubject): PolicyRequest['resource'] {
  return {
    type: 'Job',
    id: subject.id,
    attrs: {
      team: subject.team,
      owner: subject.owner,
      product: subject.product.name,
      kind: subject.product.kind,
      gpus: subject.gpus,
      gpuType: subject.gpuType ?? 'none',
      maxRuntimeSeconds: subject.maxLifetimeSeconds,
      spot: false,
    },
  };
}

/** The policy question for creating (`submit_job`) or snoozing (`extend_job`) a notebook. */
export function notebookAdmissionRequest(
  actor: Actor,
  action: 'submit_job' | 'extend_job',
  subject: NotebookPolicySubject,
  facts: NotebookPolicyFacts,
): PolicyRequest {
  const budget = facts.budget;
  return {
    principal: principalOf(actor),
    action,
    resource: resourceOf(subject),
    context: {
      role: actor.principal.teams.get(subject.team) ?? 'none',
      product: {
        name: subject.product.name,
        maxGpus: subject.product.gpu.max,
        minGpus: subject.product.gpu.min,
        maxDurationSeconds: subject.product.maxDurationSeconds,
      },
      estimatedCostCents: microsToCents(facts.estimateMicros),
      budget: budget
        ? {
            maxBudgetCents: microsToCents(budget.maxMicros),
            remainingCents: Math.floor(budget.remainingMicros / 10_000),
          }
        : { maxBudgetCents: UNLIMITED_CENTS, remainingCents: UNLIMITED_CENTS },
      unregisteredDatasets: [],
      unclassifiedDatasets: [],
      datasetsOutsideApprovedLocation: [],
      unencryptedDatasets: [],
      otherTeamDatasets: [],
      managerApproved: false,
      exceptions: facts.exceptions,
    },
  };
}

/** The policy question for stopping a notebook (`cancel_job`: its owner, a manager of its team, a platform admin). */
export function notebookStopRequest(actor: Actor, subject: NotebookPolicySubject): PolicyRequest {
  return {
    principal: principalOf(actor),
    action: 'cancel_job',
    resource: resourceOf(subject),
    context: { role: actor.principal.teams.get(subject.team) ?? 'none' },
  };
}

/** Asks the authorizer, failing closed when the engine throws. */
export function decide(
  authorizer: Pick<Authorizer, 'authorize' | 'digest'>,
  request: PolicyRequest,
): PolicyDecision {
  try {
    return authorizer.authorize(request);
  } catch (error) {
    return {
      outcome: 'deny',
      determining: [
        {
          policyId: 'engine-error',
          reason:
            'The policy engine could not decide, so the request is denied; retry, or tell a platform engineer.',
          outcome: 'deny',
          enforcement: 'deny',
        },
      ],
      warnings: [],
      dryRun: [],
      policySetDigest: authorizer.digest,
      errors: [error instanceof Error ? error.message : String(error)],
    };
  }
}
