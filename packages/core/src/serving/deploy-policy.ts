import type { ModelVersion, Product } from '@aicloud/contracts';
import { policyPrincipal, refusingHit, roleIn } from '../admission/policy-check.ts';
import type { BudgetState } from '../admission/team-usage.ts';
import type { Actor } from '../identity/principal.ts';
import { microsToCents } from '../money.ts';
import type {
  DeployContext,
  DeploymentAttributes,
  PolicyDecision,
  PolicyHit,
  PolicyRequest,
} from '../ports/authorizer.ts';

/** Cedar Longs must stay within 2^53; an absent budget is this many cents (as for jobs). */
const UNLIMITED_CENTS = 1_000_000_000_000;

/** What a deployment asks for, as the deploy policies see it. */
export interface DeploySubject {
  /** The endpoint's name. */
  name: string;
  /** The model as the request named it. */
  model: string;
  version: Pick<
    ModelVersion,
    'team' | 'version' | 'source' | 'scanVerdict' | 'trustRemoteCode' | 'artifactDir'
  >;
  product: Product;
  gpus: number;
  budget: BudgetState | null;
  exceptions: string[];
}

/** Sources that name a fixed revision: a commit of at least 7 hex digits, a local path, or a job's output. */
const PINNED = /@[0-9a-f]{7,}$|^path:|^job:/;

/** The policy question for deploying a model version as an endpoint (`deploy_endpoint` on a Deployment). */
export function deployRequest(actor: Actor, subject: DeploySubject): PolicyRequest {
  const { version, product, budget } = subject;
  const attrs: DeploymentAttributes = {
    team: version.team,
    owner: actor.principal.userName,
    model: subject.model,
    product: product.name,
    gpus: subject.gpus,
    scanVerdict: version.scanVerdict,
    trustRemoteCode: version.trustRemoteCode,
    sourcePinned: PINNED.test(version.source),
    hasArtifact: version.artifactDir !== null,
  };
  const context: DeployContext = {
    role: roleIn(actor, version.team),
    product: {
      name: product.name,
      maxGpus: product.gpu.max,
      minGpus: product.gpu.min,
      maxDurationSeconds: product.maxDurationSeconds,
    },
    budget: budget
      ? {
          maxBudgetCents: microsToCents(budget.maxMicros),
          remainingCents: Math.floor(budget.remainingMicros / 10_000),
        }
      : { maxBudgetCents: UNLIMITED_CENTS, remainingCents: UNLIMITED_CENTS },
    exceptions: subject.exceptions,
  };
  return {
    principal: policyPrincipal(actor),
    action: 'deploy_endpoint',
    resource: { type: 'Deployment', id: `endpoint/${subject.name}`, attrs },
    context,
  };
}

/** The order deploy refusals are shown in, as the checks ran before they were policies. */
const DEPLOY_ORDER = [
  'model-scan-passed',
  'model-scan-review',
  'trust-remote-code-pinned',
  'artifact-present',
  'gpu-max-per-product',
  'budget-exhausted',
];

/** Why a deployment is refused: the error code, the rule, and what the caller reads. */
export interface DeployRefusal {
  code: 'policy_denied' | 'budget_exceeded' | 'approval_required' | 'forbidden';
  rule: string;
  message: string;
}

/** The refusal for a decision that does not let the deployment go ahead, or null when it may. */
export function deployRefusal(decision: PolicyDecision, subject: DeploySubject): DeployRefusal | null {
  const hit = refusingHit(decision, DEPLOY_ORDER);
  if (!hit) return null;
  const { code, message } = explainDeployHit(hit, subject);
  const errors = decision.errors.length > 0 ? `: ${decision.errors.join('; ')}` : '';
  return { code, rule: hit.policyId, message: `${message}${errors}` };
}

function explainDeployHit(hit: PolicyHit, subject: DeploySubject): Omit<DeployRefusal, 'rule'> {
  const { model, version, product, gpus } = subject;
  const team = version.team;
  switch (hit.policyId) {
    case 'model-scan-passed':
      return {
        code: 'policy_denied',
        message: `${model} version ${version.version} is ${version.scanVerdict} by the security scan and never deploys; fix the artifact and register a new version (see aicloud models show ${model})`,
      };
    case 'model-scan-review':
      return {
        code: 'approval_required',
        message: `${model} version ${version.version} imports code outside the allow-list and needs a platform-admin's review; a platform-admin can deploy it after reviewing the scan (aicloud models versions ${model})`,
      };
    case 'trust-remote-code-pinned':
      return { code: 'policy_denied', message: hit.reason };
    case 'artifact-present':
      return {
        code: 'policy_denied',
        message: `${model} version ${version.version} has no artifact on this platform to serve`,
      };
    case 'gpu-max-per-product':
      return {
        code: 'policy_denied',
        message: `asked for ${gpus} GPUs; product ${product.name} allows at most ${product.gpu.max}`,
      };
    case 'budget-exhausted':
      return {
        code: 'budget_exceeded',
        message: `the budget of ${team} is exhausted; a manager can raise it (aicloud budgets set --team ${team} --max-budget <usd>)`,
      };
    case 'default-deny':
      return { code: 'forbidden', message: hit.reason };
    default:
      return { code: 'policy_denied', message: `[${hit.policyId}] ${hit.reason}` };
  }
}
