import type { PolicyDecision, PolicyHit } from './policy-decision.ts';

const headline: Record<PolicyDecision['outcome'], string> = {
  allow: 'Allowed.',
  deny: 'Denied.',
  require_approval: 'Held for approval.',
  warn: 'Allowed, with a warning.',
};

const wouldHave: Record<PolicyHit['outcome'], string> = {
  deny: 'would have denied',
  require_approval: 'would have held for approval',
  warn: 'would have warned',
};

function line(label: string, hit: PolicyHit): string {
  return `  ${label} ${hit.policyId}: ${hit.reason}`;
}

/** Explains a decision in plain lines: the outcome, each determining policy with its reason, warnings and dry runs. */
export function explain(decision: PolicyDecision): string {
  const lines = [headline[decision.outcome]];
  const label =
    decision.outcome === 'deny' ? 'denied by' : decision.outcome === 'warn' ? 'warning from' : 'held by';
  for (const hit of decision.determining) lines.push(line(label, hit));
  if (decision.outcome !== 'warn') {
    for (const hit of decision.warnings) lines.push(line('warning from', hit));
  }
  for (const hit of decision.dryRun) {
    lines.push(`  dry run: ${hit.policyId} ${wouldHave[hit.outcome]}: ${hit.reason}`);
  }
  for (const error of decision.errors) lines.push(`  engine error: ${error}`);
  lines.push(`  policy set ${decision.policySetDigest}`);
  return lines.join('\n');
}
