import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Outcome } from './policy-decision.ts';
import type { PolicyRequest } from './policy-request.ts';

/** One row of a decision table: a request and the decision expected for it. */
export interface PolicyTestCase {
  file: string;
  name: string;
  request: PolicyRequest;
  outcome: Outcome;
  /** Expected determining policy ids, in any order; unchecked when absent. */
  determining?: string[];
  /** Expected warning policy ids, in any order; unchecked when absent. */
  warnings?: string[];
  /** Expected dry-run policy ids, in any order; unchecked when absent. */
  dryRun?: string[];
  /** Whether the engine is expected to fail (and so deny); by default an engine error fails the case. */
  errors: boolean;
}

const outcomes: readonly string[] = ['allow', 'deny', 'require_approval', 'warn'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Records merge field by field; anything else in `override` replaces what `base` had. */
function merge(base: unknown, override: unknown): unknown {
  if (!isRecord(base) || !isRecord(override)) return override === undefined ? base : override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = merge(base[key], value);
  return merged;
}

function ids(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw new Error(`${field} must be a list of policy ids`);
}

/**
 * Reads a YAML decision table: an optional `base` request and `cases`, each with a `name`, a `request`
 * merged over the base, an expected `outcome` and optionally `determining`, `warnings`, `dryRun` and `errors`.
 */
export function readDecisionTable(file: string): PolicyTestCase[] {
  const document: unknown = parse(readFileSync(file, 'utf8'));
  if (!isRecord(document) || !Array.isArray(document.cases)) {
    throw new Error(`${file}: expected a mapping with a list of cases`);
  }
  return document.cases.map((entry: unknown, index) => {
    const where = `${file}: case ${index + 1}`;
    if (!isRecord(entry) || typeof entry.name !== 'string') throw new Error(`${where}: a case needs a name`);
    const outcome = entry.outcome;
    if (typeof outcome !== 'string' || !outcomes.includes(outcome)) {
      throw new Error(`${where} (${entry.name}): outcome must be one of ${outcomes.join(', ')}`);
    }
    const request = merge(document.base, entry.request);
    if (!isRecord(request)) throw new Error(`${where} (${entry.name}): the case has no request`);
    try {
      const testCase: PolicyTestCase = {
        file,
        name: entry.name,
        request: request as unknown as PolicyRequest,
        outcome: outcome as Outcome,
        errors: entry.errors === true,
      };
      const determining = ids(entry.determining, 'determining');
      const warnings = ids(entry.warnings, 'warnings');
      const dryRun = ids(entry.dryRun, 'dryRun');
      if (determining) testCase.determining = determining;
      if (warnings) testCase.warnings = warnings;
      if (dryRun) testCase.dryRun = dryRun;
      return testCase;
    } catch (error) {
      throw new Error(`${where} (${entry.name}): ${(error as Error).message}`);
    }
  });
}
