// Benchmark of the policy decision path: `npm run bench:policy [-- --decisions 20000 --naive 2000]`.
// Runs, side by side and interleaved so machine noise hits every path alike, on one core (one thread):
//   - our authorizer (policy set parsed once, only what the policies read sent across the JSON boundary),
//   - the same preparsed set with the whole request sent,
//   - the naive stateless `isAuthorized` that passes the policy text on every call,
//   - the floor: an empty preparsed call with no policies and no data.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyRequest, SubmitJobContext } from '../packages/policy/src/index.ts';
import { createCedarAuthorizer, defaultPoliciesDir } from '../packages/policy/src/index.ts';

const { values } = parseArgs({
  options: { decisions: { type: 'string', default: '20000' }, naive: { type: 'string', default: '2000' } },
});
const decisions = Number(values.decisions);
const naiveDecisions = Number(values.naive);
const rounds = 10;

const policyText = readdirSync(defaultPoliciesDir)
  .filter((name) => name.endsWith('.cedar'))
  .sort()
  .map((name) => readFileSync(join(defaultPoliciesDir, name), 'utf8'))
  .join('\n');
const authorizer = createCedarAuthorizer({ policiesDir: defaultPoliciesDir });

/** A varied stream of requests: allowed, denied, held and warned submits, and cancels. */
function requestAt(index: number): PolicyRequest {
  const gpus = [1, 2, 4, 6, 8, 16][index % 6] ?? 1;
  const attrs = {
    team: 'legal',
    owner: index % 5 === 0 ? 'bob' : 'alice',
    product: 'fine-tune',
    kind: 'fine-tune',
    gpus,
    gpuType: 'h100',
    maxRuntimeSeconds: index % 7 === 0 ? 43200 : 14400,
    spot: index % 3 === 0,
  };
  const principal = { name: 'alice', platformAdmin: false, teams: ['legal', 'search'] };
  const resource = { type: 'Job' as const, id: `job_${index}`, attrs };
  if (index % 8 === 0) return { principal, action: 'cancel_job', resource, context: { role: 'member' } };
  const context: SubmitJobContext = {
    role: index % 3 === 0 ? 'manager' : 'member',
    product: { name: 'fine-tune', maxGpus: 8, minGpus: 1, maxDurationSeconds: 28800 },
    estimatedCostCents: 1000 * gpus,
    budget: { maxBudgetCents: 500000, remainingCents: index % 11 === 0 ? 0 : 300000 },
    unregisteredDatasets: index % 13 === 0 ? ['scratch/raw'] : [],
    unclassifiedDatasets: [],
    datasetsOutsideApprovedLocation: [],
    unencryptedDatasets: index % 17 === 0 ? ['projects/legal-rag/datasets/v1'] : [],
    otherTeamDatasets: [],
    managerApproved: index % 4 === 0,
    exceptions: index % 19 === 0 ? ['gpu-max-per-product'] : [],
  };
  return { principal, action: 'submit_job', resource, context };
}

/** The whole request as Cedar JSON, as a caller without our authorizer would send it. */
function wholeCall(request: PolicyRequest) {
  const principal = { type: 'User', id: request.principal.name };
  const resource = { type: 'Job', id: request.resource.id };
  return {
    principal,
    action: { type: 'Action', id: request.action },
    resource,
    context: request.context as cedar.Context,
    entities: [
      {
        uid: principal,
        attrs: { name: request.principal.name, platformAdmin: request.principal.platformAdmin },
        parents: request.principal.teams.map((team) => ({ type: 'Team', id: team })),
      },
      { uid: resource, attrs: request.resource.attrs, parents: [] },
    ],
  };
}

cedar.preparsePolicySet('bench-whole', { staticPolicies: policyText });
cedar.preparsePolicySet('bench-empty', { staticPolicies: '' });
const empty = {
  principal: { type: 'User', id: 'alice' },
  action: { type: 'Action', id: 'submit_job' },
  resource: { type: 'Job', id: 'job_0' },
  context: {},
  entities: [],
  preparsedPolicySetId: 'bench-empty',
};

interface Path {
  name: string;
  count: number;
  /** Calls prepared before timing, so building them is not measured. */
  prepare: (index: number) => () => unknown;
  times: number[];
  seconds: number;
}
const paths: Path[] = [
  {
    name: 'aicloud authorizer (preparsed, pruned)',
    count: decisions,
    prepare: (index) => {
      const request = requestAt(index);
      return () => authorizer.authorize(request);
    },
    times: [],
    seconds: 0,
  },
  {
    name: 'preparsed set, whole request',
    count: decisions,
    prepare: (index) => {
      const call = { ...wholeCall(requestAt(index)), preparsedPolicySetId: 'bench-whole' };
      return () => cedar.statefulIsAuthorized(call);
    },
    times: [],
    seconds: 0,
  },
  {
    name: 'stateless isAuthorized (policy text)',
    count: naiveDecisions,
    prepare: (index) => {
      const call = { ...wholeCall(requestAt(index)), policies: { staticPolicies: policyText } };
      return () => cedar.isAuthorized(call);
    },
    times: [],
    seconds: 0,
  },
  {
    name: 'floor: empty preparsed call',
    count: decisions,
    prepare: () => () => cedar.statefulIsAuthorized(empty),
    times: [],
    seconds: 0,
  },
];

for (const path of paths) {
  const warmUp = Math.max(200, Math.floor(path.count / 10));
  for (let index = 0; index < warmUp; index += 1) path.prepare(index)();
}
const outcomes = new Map<string, number>();
for (let index = 0; index < decisions; index += 1) {
  const outcome = authorizer.authorize(requestAt(index)).outcome;
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
}

for (let round = 0; round < rounds; round += 1) {
  for (const path of paths) {
    const size = Math.ceil(path.count / rounds);
    const calls = Array.from({ length: size }, (_, offset) => path.prepare(round * size + offset));
    const start = process.hrtime.bigint();
    for (const call of calls) {
      const before = process.hrtime.bigint();
      call();
      path.times.push(Number(process.hrtime.bigint() - before) / 1000);
    }
    path.seconds += Number(process.hrtime.bigint() - start) / 1e9;
  }
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

const rows = paths.map((path) => {
  const sorted = [...path.times].sort((left, right) => left - right);
  return {
    name: path.name,
    decisions: path.times.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    perSecond: path.times.length / path.seconds,
  };
});
const pad = (text: string | number, width: number) => String(text).padStart(width);
console.log(
  `policy decisions: default set (${authorizer.policies().length} policies, ${authorizer.digest.slice(0, 19)}…), ` +
    `node ${process.version}, one core, ${rounds} interleaved rounds`,
);
console.log(
  `outcomes of our stream: ${[...outcomes].map(([outcome, count]) => `${outcome} ${count}`).join(', ')}\n`,
);
console.log(
  `${'path'.padEnd(40)}${pad('decisions', 10)}${pad('p50 µs', 10)}${pad('p99 µs', 10)}${pad('decisions/s', 13)}`,
);
for (const row of rows) {
  console.log(
    `${row.name.padEnd(40)}${pad(row.decisions, 10)}${pad(row.p50.toFixed(1), 10)}${pad(row.p99.toFixed(1), 10)}${pad(Math.round(row.perSecond), 13)}`,
  );
}
const [ours, whole, naive, floor] = rows;
if (ours && whole && naive && floor) {
  console.log(
    `\nours vs naive stateless: p50 ${(naive.p50 / ours.p50).toFixed(1)}× lower, ` +
      `throughput ${(ours.perSecond / naive.perSecond).toFixed(1)}× higher`,
  );
  console.log(
    `ours vs preparsed whole request: p50 ${(whole.p50 / ours.p50).toFixed(2)}× lower, ` +
      `throughput ${(ours.perSecond / whole.perSecond).toFixed(2)}× higher`,
  );
  const met = ours.p50 <= 50 && ours.perSecond >= 20_000;
  console.log(
    `goal p50 ≤ 50 µs and ≥ 20,000 decisions/s: ${met ? 'met' : 'not met'} on this machine ` +
      `(its floor, an empty call, is ${floor.p50.toFixed(1)} µs)`,
  );
}
