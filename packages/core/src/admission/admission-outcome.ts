import type { JobReason } from '@aicloud/contracts';
import { formatDuration } from '../duration.ts';
import { formatUsd } from '../money.ts';
import type { PolicyDecision, PolicyHit } from '../ports/authorizer.ts';
import type { AdmissionFacts, JobAsk } from './admission-facts.ts';

/** Where admission puts a job. */
export type AdmissionOutcome = 'admitted' | 'queued' | 'pending_approval' | 'rejected';

function exceptionCommand(policyId: string, team: string): string {
  return `ask a platform-admin for a time-boxed exception: aicloud policy exceptions grant --policy ${policyId} --team ${team} --description "why" --expires-at <time>`;
}

/** What was asked, the limit, and the next command, for one policy that held or denied a job. */
export function explainHit(
  hit: PolicyHit,
  ask: JobAsk,
  facts: AdmissionFacts,
  estimateMicros: number,
): JobReason {
  const product = ask.product;
  const base = { code: hit.policyId, message: hit.reason, rule: hit.policyId };
  const list = (paths: string[]) => paths.join(', ');
  switch (hit.policyId) {
    case 'gpu-max-per-product':
      return {
        ...base,
        asked: `${ask.gpus} × ${ask.gpuType ?? 'GPU'}`,
        limit: `${product.gpu.max} GPUs on product ${product.name}`,
        next: `aicloud create job --type ${product.name} --gpus ${product.gpu.max} …  (or ${exceptionCommand(hit.policyId, ask.team)})`,
      };
    case 'gpu-approval-above-4':
      return {
        ...base,
        asked: `${ask.gpus} × ${ask.gpuType ?? 'GPU'}`,
        limit: '4 GPUs without a manager’s approval',
        next: 'a manager of the team approves it: aicloud approvals approve <approval id>',
      };
    case 'runtime-within-product-max':
      return {
        ...base,
        asked: formatDuration(ask.maxRuntimeSeconds),
        limit: `${product.maxDuration} on product ${product.name}`,
        next: `aicloud create job … --max-runtime ${product.maxDuration}`,
      };
    case 'budget-exhausted':
    case 'budget-covers-estimate':
      return {
        ...base,
        asked: `estimated at most ${formatUsd(estimateMicros)}`,
        limit: facts.budget
          ? `team budget ${formatUsd(facts.budget.maxMicros)} per ${facts.budget.duration}: ${formatUsd(Math.max(facts.budget.remainingMicros, 0))} left (${formatUsd(facts.budget.spentMicros)} spent, ${formatUsd(facts.budget.committedMicros)} committed)`
          : 'no budget',
        next: `ask a manager of ${ask.team} to raise it (aicloud budgets set --team ${ask.team} --max-budget <usd>), or ask for less: fewer GPUs, a shorter --max-runtime, or --spot`,
      };
    case 'dataset-registered':
      return {
        ...base,
        asked: list(facts.datasets.unregistered),
        limit: 'registered datasets only',
        next: `aicloud datasets register ${facts.datasets.unregistered[0] ?? 'PATH'} --location URI --encrypted --classification internal`,
      };
    case 'dataset-classified':
      return {
        ...base,
        asked: list(facts.datasets.unclassified),
        limit: 'datasets with a classification',
        next: `ask a platform-admin to attest it (a registrant's claim does not count): aicloud datasets attest ${facts.datasets.unclassified[0] ?? 'PATH'} --classification public|internal|confidential|pii`,
      };
    case 'dataset-approved-encrypted-location':
      return {
        ...base,
        asked: list([...new Set([...facts.datasets.outsideApprovedLocation, ...facts.datasets.unencrypted])]),
        limit: 'encrypted datasets inside the approved data lake',
        next: `copy the data into your team's part of the approved lake (<lake>/${ask.team}/…, encrypted), register it there, and ask a platform-admin to attest its encryption: aicloud datasets attest PATH --encrypted`,
      };
    case 'dataset-own-team':
      return {
        ...base,
        asked: list(facts.datasets.otherTeam),
        limit: `datasets of team ${ask.team}`,
        next: 'ask the owning team to share a copy under your team’s projects/ path',
      };
    default:
      return { ...base, asked: null, limit: null, next: exceptionCommand(hit.policyId, ask.team) };
  }
}

/** Policies that enforce a product's own maximum: no budget, approval or exception of the team's changes them. */
const HARD_LIMITS = new Set(['gpu-max-per-product', 'runtime-within-product-max']);

/**
 * The order reasons are shown in: a product's hard limit first (the request can never run as asked), then
 * the other rules (datasets, access), then the budget (often only a consequence of asking for too much).
 * Stable, so hits of one rank keep the policy set's file order.
 */
export function orderHits(hits: readonly PolicyHit[]): PolicyHit[] {
  const rank = (hit: PolicyHit) =>
    HARD_LIMITS.has(hit.policyId) ? 0 : hit.policyId.startsWith('budget-') ? 2 : 1;
  return [...hits].sort((left, right) => rank(left) - rank(right));
}

/** The admission result: the policy outcome, then quota and capacity for allowed jobs. */
export function decideAdmission(
  decision: PolicyDecision,
  ask: JobAsk,
  facts: AdmissionFacts,
  estimateMicros: number,
): { outcome: AdmissionOutcome; reasons: JobReason[]; budgetRefusal: boolean } {
  if (decision.outcome === 'deny') {
    const reasons = orderHits(decision.determining).map((hit) => explainHit(hit, ask, facts, estimateMicros));
    if (decision.errors.length > 0) {
      reasons.push({
        code: 'policy_engine_error',
        message: `the policy engine failed, so the answer is deny: ${decision.errors.join('; ')}`,
        asked: null,
        limit: null,
        rule: null,
        next: 'tell your platform team; try again later',
      });
    }
    const budgetRefusal =
      decision.determining.length > 0 &&
      decision.determining.every((hit) => hit.policyId.startsWith('budget-'));
    return { outcome: 'rejected', reasons, budgetRefusal };
  }
  if (decision.outcome === 'require_approval') {
    return {
      outcome: 'pending_approval',
      reasons: orderHits(decision.determining).map((hit) => explainHit(hit, ask, facts, estimateMicros)),
      budgetRefusal: false,
    };
  }
  const wait = quotaWait(ask, facts);
  return { outcome: wait ? 'queued' : 'admitted', reasons: wait ? [wait] : [], budgetRefusal: false };
}

/**
 * Why an allowed job must wait, or null when it fits now. The code is Kueue's (`WaitingForQuota`,
 * `WaitingForCapacity`); the message says it in plain words, with Kueue's line at its end for operators.
 */
export function quotaWait(ask: JobAsk, facts: AdmissionFacts): JobReason | null {
  if (!facts.quota || !facts.capacity || ask.gpus === 0) return null;
  const { quota, capacity } = facts;
  const type = quota.gpuType;
  const asked = `${ask.gpus} × ${type}`;
  const running = `aicloud jobs list --team ${ask.team} --status running`;
  if (quota.nominal !== null && quota.used + ask.gpus > quota.nominal) {
    const kueue = `exceeded quota: ${ask.team}-${type.toLowerCase()}, requested: gpu=${ask.gpus}, used: gpu=${quota.used}, limited: gpu=${quota.nominal}`;
    const limit = `nominal quota ${quota.nominal} × ${type} for ${ask.team}`;
    if (ask.gpus > quota.nominal) {
      return {
        code: 'WaitingForQuota',
        message: `this job asks for ${asked}, more than team ${ask.team} may use at once (${quota.nominal} × ${type}), so it cannot start until the quota is raised (${kueue})`,
        asked,
        limit,
        rule: 'quota',
        next: `cancel it (aicloud jobs cancel <job id>) and ask for at most ${quota.nominal} GPUs, or ask a platform-admin to raise ${ask.team}'s ${type} quota`,
      };
    }
    const free = Math.max(quota.nominal - quota.used, 0);
    const short = quota.used + ask.gpus - quota.nominal;
    return {
      code: 'WaitingForQuota',
      message: `team ${ask.team} may use ${quota.nominal} × ${type} at once and its jobs already hold ${quota.used}; this job (${asked}) waits in the queue until ${short} more ${short === 1 ? 'is' : 'are'} free (${kueue})`,
      asked,
      limit,
      rule: 'quota',
      next: `nothing to do: it starts by itself when ${ask.team}'s jobs free ${short} × ${type} (see them: ${running})${free > 0 ? `; to start now, ask for at most ${free} GPU${free === 1 ? '' : 's'} instead` : ''}`,
    };
  }
  if (capacity.used + ask.gpus > capacity.total) {
    const free = Math.max(capacity.total - capacity.used, 0);
    return {
      code: 'WaitingForCapacity',
      message: `the platform has ${capacity.total} × ${type} and ${free} ${free === 1 ? 'is' : 'are'} free; this job (${asked}) waits in the queue until enough free up (not enough free ${type}: requested ${ask.gpus}, free ${free} of ${capacity.total})`,
      asked,
      limit: `${capacity.total} × ${type} in the inventory`,
      rule: 'capacity',
      next: `nothing to do: it starts by itself when GPUs free up${free > 0 ? `; to start now, ask for at most ${free} GPU${free === 1 ? '' : 's'} instead` : ''}`,
    };
  }
  if (facts.queueAhead > 0) {
    return {
      code: 'WaitingForQuota',
      message: `${facts.queueAhead} earlier job(s) of ${ask.team} for ${type} are waiting, and jobs start in order; this one starts after them`,
      asked,
      limit: null,
      rule: 'quota',
      next: `nothing to do: it starts by itself after the jobs ahead of it (see them: aicloud jobs list --team ${ask.team} --status queued)`,
    };
  }
  return null;
}
