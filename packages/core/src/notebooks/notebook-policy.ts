import type { Product } from '@aicloud/contracts';
import type { BudgetState } from '../admission/team-usage.ts';
import type { Actor } from '../identity/principal.ts';
import { microsToCents } from '../money.ts';
import {
  type Authorizer,
  failClosed,
  type IdleGpuNotebookContext,
  type NotebookContext,
  type PolicyDecision,
  type PolicyRequest,
} from '../ports/authorizer.ts';
import type { NotebookRow } from './notebook-record.ts';

/** Cedar Longs must stay within 2^53; an absent budget is this many cents (as for jobs). */
const UNLIMITED_CENTS = 1_000_000_000_000;

/** A notebook as the policies see it: a Notebook entity whose maxRuntimeSeconds is its max lifetime. */
export interface NotebookPolicySubject {
  id: string;
  team: string;
  owner: string;
  product: Product;
  gpus: number;
  gpuType: string | null;
  maxLifetimeSeconds: number;
}

/** A stored notebook as the policies see it; a product deleted since it was created is known by its name. */
export function notebookSubject(row: NotebookRow, product: Product | null): NotebookPolicySubject {
  return {
    id: row.id,
    team: row.team,
    owner: row.owner,
    product: product ?? ({ name: row.product, kind: 'notebook' } as Product),
    gpus: row.gpus,
    gpuType: row.gpu_type,
    maxLifetimeSeconds: row.max_lifetime_s,
  };
}

/** Facts for `create_notebook` and `snooze_notebook`. */
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
    type: 'Notebook',
    id: subject.id,
    attrs: {
      team: subject.team,
      owner: subject.owner,
      product: subject.product.name,
      kind: subject.product.kind,
      gpus: subject.gpus,
      gpuType: subject.gpuType ?? 'none',
      maxRuntimeSeconds: subject.maxLifetimeSeconds,
    },
  };
}

/** The policy question for creating (`create_notebook`) or snoozing (`snooze_notebook`) a notebook. */
export function notebookAdmissionRequest(
  actor: Actor,
  action: 'create_notebook' | 'snooze_notebook',
  subject: NotebookPolicySubject,
  facts: NotebookPolicyFacts,
): PolicyRequest {
  const budget = facts.budget;
  const context: NotebookContext = {
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
    managerApproved: false,
    exceptions: facts.exceptions,
  };
  return {
    principal: principalOf(actor),
    action,
    resource: resourceOf(subject),
    context,
  };
}

/** The policy question for stopping a notebook (`stop_notebook`: its owner, a manager of its team, a platform admin). */
export function notebookStopRequest(actor: Actor, subject: NotebookPolicySubject): PolicyRequest {
  return {
    principal: principalOf(actor),
    action: 'stop_notebook',
    resource: resourceOf(subject),
    context: { role: actor.principal.teams.get(subject.team) ?? 'none' },
  };
}

/**
 * The platform as the policies see it when it acts on its own (as in the audit log's `system` actor): a
 * User entity named `system`, no platform admin, in no team.
 */
const SYSTEM_PRINCIPAL: PolicyRequest['principal'] = {
  name: 'system',
  platformAdmin: false,
  teams: [],
};

/** The platform's question whether a notebook whose GPUs sit idle stops now (`stop_idle_gpu_notebook`). */
export function notebookIdleGpuStopRequest(
  subject: NotebookPolicySubject,
  context: IdleGpuNotebookContext,
): PolicyRequest {
  return {
    principal: SYSTEM_PRINCIPAL,
    action: 'stop_idle_gpu_notebook',
    resource: resourceOf(subject),
    context,
  };
}

/** Asks the authorizer through the one fail-closed wrapper. */
export function decide(authorizer: Authorizer, request: PolicyRequest): PolicyDecision {
  return failClosed(authorizer).authorize(request);
}
