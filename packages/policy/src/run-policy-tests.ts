import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CedarEngine } from './cedar-engine.ts';
import { createCedarAuthorizer } from './create-cedar-authorizer.ts';
import { type PolicyTestCase, readDecisionTable } from './decision-table.ts';
import type { Outcome, PolicyDecision } from './policy-decision.ts';

/** The result of one decision-table case: what was expected, what came, and why it failed. */
export interface PolicyTestResult {
  file: string;
  name: string;
  passed: boolean;
  /** Null when the table itself could not be read. */
  expected: { outcome: Outcome; determining?: string[]; warnings?: string[]; dryRun?: string[] } | null;
  actual: {
    outcome: Outcome;
    determining: string[];
    warnings: string[];
    dryRun: string[];
    errors: string[];
  } | null;
  problems: string[];
}

/** Every case of every decision table, run against one policy set. */
export interface PolicyTestReport {
  policySetDigest: string;
  passed: number;
  failed: number;
  results: PolicyTestResult[];
}

/** Where the policies and their decision tables are. */
export interface PolicyTestOptions {
  policiesDir: string;
  /** Folder of `*.yaml` decision tables; `<policiesDir>/tests` by default. */
  testsDir?: string;
  engine?: CedarEngine;
}

function sameIds(expected: string[] | undefined, actual: string[]): boolean {
  return expected === undefined || [...expected].sort().join('\n') === [...actual].sort().join('\n');
}

function compare(testCase: PolicyTestCase, decision: PolicyDecision): PolicyTestResult {
  const { file, name, outcome, determining, warnings, dryRun } = testCase;
  const idsOf = (hits: { policyId: string }[]) => hits.map((hit) => hit.policyId);
  const actual = {
    outcome: decision.outcome,
    determining: idsOf(decision.determining),
    warnings: idsOf(decision.warnings),
    dryRun: idsOf(decision.dryRun),
    errors: decision.errors,
  };
  const problems: string[] = [];
  if (actual.outcome !== outcome) problems.push(`outcome ${actual.outcome}, expected ${outcome}`);
  const lists = [
    ['determining', determining, actual.determining],
    ['warnings', warnings, actual.warnings],
    ['dryRun', dryRun, actual.dryRun],
  ] as const;
  for (const [label, wanted, got] of lists) {
    if (!sameIds(wanted, got))
      problems.push(`${label} [${got.join(', ')}], expected [${wanted?.join(', ')}]`);
  }
  if (actual.errors.length > 0 && !testCase.errors)
    problems.push(`engine errors: ${actual.errors.join('; ')}`);
  const expected = {
    outcome,
    ...(determining && { determining }),
    ...(warnings && { warnings }),
    ...(dryRun && { dryRun }),
  };
  return { file, name, passed: problems.length === 0, expected, actual, problems };
}

/**
 * Runs the YAML decision tables against the policy set, validating every request against the schema;
 * throws if the policy set itself is invalid, and reports an unreadable table as a failed case.
 */
export function runPolicyTests(options: PolicyTestOptions): PolicyTestReport {
  const authorizer = createCedarAuthorizer({
    policiesDir: options.policiesDir,
    strictRequests: true,
    ...(options.engine && { engine: options.engine }),
  });
  const testsDir = options.testsDir ?? join(options.policiesDir, 'tests');
  const files = readdirSync(testsDir)
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
    .sort();
  const results: PolicyTestResult[] = [];
  for (const name of files) {
    const file = join(testsDir, name);
    let cases: PolicyTestCase[];
    try {
      cases = readDecisionTable(file);
    } catch (error) {
      const problems = [error instanceof Error ? error.message : String(error)];
      results.push({ file, name: '(decision table)', passed: false, expected: null, actual: null, problems });
      continue;
    }
    for (const testCase of cases) results.push(compare(testCase, authorizer.authorize(testCase.request)));
  }
  const passed = results.filter((result) => result.passed).length;
  return { policySetDigest: authorizer.digest, passed, failed: results.length - passed, results };
}
