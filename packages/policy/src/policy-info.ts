import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyInfo } from './authorizer.ts';

const forbidOutcomes = ['deny', 'require_approval', 'warn'] as const;
const enforcements = ['deny', 'warn', 'dryrun'] as const;

function oneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

/** Reads a policy's annotations into a PolicyInfo, or says which annotation is missing or wrong. */
export function readPolicyInfo(policy: PolicyJson, file: string): PolicyInfo | string {
  const annotations = policy.annotations ?? {};
  const id = annotations.id;
  if (!id) return 'policy has no @id("...") annotation';
  const reason = annotations.reason;
  if (!reason) return `policy "${id}" has no @reason("...") annotation`;
  const outcome = annotations.outcome;
  const enforcement = annotations.enforcement ?? 'deny';
  if (policy.effect === 'permit') {
    if (outcome !== undefined || annotations.enforcement !== undefined) {
      return `policy "${id}" is a permit: @outcome and @enforcement apply to forbid policies only`;
    }
    return { id, file, reason, outcome: 'allow', enforcement: 'deny', effect: 'permit' };
  }
  if (outcome === undefined || !oneOf(outcome, forbidOutcomes)) {
    return `policy "${id}" needs @outcome("deny"|"require_approval"|"warn"), got ${outcome === undefined ? 'none' : `"${outcome}"`}`;
  }
  if (!oneOf(enforcement, enforcements)) {
    return `policy "${id}" has @enforcement("${enforcement}"); use "deny", "warn" or "dryrun"`;
  }
  return { id, file, reason, outcome, enforcement, effect: 'forbid' };
}
