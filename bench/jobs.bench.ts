// npm run bench:jobs [-- --jobs 200] [--max-seconds 20]: what starting a trivial job costs, four ways side by
// side in one run and one process (the platform loaded first, so spawning costs the same in all):
//   1. spawning the same command from Node (the baseline);
//   2. the local executor's start with isolation 'none';
//   3. the local executor's start with isolation 'sandbox' (bubblewrap + setpriv + cgroups; root only);
//   4. submit → running through the platform (the runner recorded the executor's id; sandboxed by default as root).
// Jobs go one after another. 2 and 3 alternate (one job of each in turn), so their difference is not the
// machine's load drifting; each round of 2–3, and each job of 4, follows one raw spawn: the paired baseline
// of the ratios. Two times per job: until the start resolved ("started": what the runner waits for, the
// platform's "running") and until the command ran ("runs": it creates a file; for the sandbox this includes
// bubblewrap's namespaces and mounts, which come after the start). Workloads stay running until their path
// ends, so each start happens with the earlier ones tracked. Reports p50/p99, the sandbox's cost (sandbox −
// none at p50, goal ≤ 20 ms), submit→running ÷ raw spawn (goal ≤ 1.5×), where submit→running's time goes
// (timestamps around admission, Cedar, the start transaction with its run token, and executor.start, taken
// without touching core code), the event loop's delays and the heap per tracked job.
// Each path stops after --max-seconds (20 s), so the whole run stays under two minutes.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createPlatform } from '@aicloud/core';
import { demoSeedFile } from '@aicloud/core/testing';
import {
  createLocalExecutor,
  type Executor,
  type LocalExecutorDeps,
  sandboxSupport,
  type WorkloadSpec,
} from '@aicloud/executors';
import { createCedarAuthorizer } from '@aicloud/policy';

const option = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const count = option('--jobs', 200);
const maxMs = option('--max-seconds', 20) * 1000;
const repoRoot = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'aicloud-bench-jobs-'));
/** The same command everywhere: it marks that it runs (in its working directory), then stays. */
const command = ': > ready; exec sleep 20';
/** What the platform gives its local executor (platform.ts): the installation's code read-only in each sandbox. */
const sandboxConfig: LocalExecutorDeps['sandbox'] = {
  readOnly: ['examples', 'packages', 'node_modules'].map((dir) => join(repoRoot, dir)),
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Resolves `ready` with performance.now() when the command has created its file. */
interface Marker {
  ready: Promise<number>;
  close(): void;
}

/** Watches `dir` for `ready` (inotify sees it through the sandbox's bind mount too). */
function whenReady(dir: string): Marker {
  mkdirSync(dir, { recursive: true });
  let close = () => {};
  const ready = new Promise<number>((resolve, reject) => {
    const watcher = watch(dir, (_event, name) => {
      if (name === 'ready') resolve(performance.now());
    });
    const timer = setTimeout(() => reject(new Error(`${dir}/ready did not appear within 10 s`)), 10_000);
    close = () => {
      clearTimeout(timer);
      watcher.close();
    };
  });
  return { ready, close: () => close() };
}

/** Times of one path, in ms per job, with its paired raw spawns. */
interface PathResult {
  started: number[];
  ran: number[];
  raw: { started: number[]; ran: number[] };
  seconds: number;
}

let rawCount = 0;
/** One raw spawn of the command: until the `spawn` event, until it ran; then it is killed. */
async function rawOnce(into: PathResult['raw']): Promise<void> {
  const workDir = join(scratch, 'raw', `w${rawCount++}`);
  const marker = whenReady(workDir);
  try {
    const t0 = performance.now();
    const child = spawn('/bin/sh', ['-c', command], { cwd: workDir, detached: true, stdio: 'ignore' });
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    into.started.push(performance.now() - t0);
    into.ran.push((await marker.ready) - t0);
    child.unref();
    process.kill(-child.pid!, 'SIGKILL');
  } finally {
    marker.close();
  }
}

/** One measured path: its name (a scratch folder) and how it starts job `index`. */
interface Path {
  name: string;
  /** Starts one job whose command runs in `workDir`, or returns a marker watching where it runs. */
  startOne: (index: number, workDir: string) => Promise<Marker | undefined>;
}

/**
 * Starts up to `count` jobs per path, or for `maxMs` per path, one after another: for each index one raw
 * spawn (the paired baseline, shared by the paths), then one job of each path in turn, so that paths
 * measured together see the same load and the same number of workloads tracked.
 */
async function measure(paths: Path[]): Promise<PathResult[]> {
  const raw: PathResult['raw'] = { started: [], ran: [] };
  const results: PathResult[] = paths.map(() => ({ started: [], ran: [], raw, seconds: 0 }));
  const begin = performance.now();
  for (let index = 0; index < count && performance.now() - begin < maxMs * paths.length; index += 1) {
    await rawOnce(raw);
    for (const [which, path] of paths.entries()) {
      const result = results[which]!;
      const workDir = join(scratch, path.name, `w${index}`, 'work');
      const markers = [whenReady(workDir)];
      try {
        const t0 = performance.now();
        const own = await path.startOne(index, workDir);
        result.started.push(performance.now() - t0);
        if (own) markers.push(own);
        result.ran.push((await markers.at(-1)!.ready) - t0);
      } finally {
        for (const marker of markers) marker.close();
      }
    }
  }
  for (const result of results) result.seconds = (performance.now() - begin) / 1000 / paths.length;
  return results;
}

/** A workload as the runner describes a batch-inference job: the product's egress and limits. */
function spec(name: string, index: number, workDir: string): WorkloadSpec {
  const root = join(workDir, '..');
  return {
    id: `bench_${name}_${index}`,
    command,
    workDir,
    env: { AICLOUD_TEAM: 'bench' },
    gpus: [],
    maxRuntimeSeconds: 60,
    graceSeconds: 0,
    secrets: {},
    logFile: join(root, 'logs', 'output.log'),
    outputDir: join(root, 'output'),
    checkpointDir: join(root, 'checkpoints'),
    sandbox: { egress: 'platform', readOnly: [] },
    cpus: 1,
    memoryMiB: 1024,
  };
}

/** Kills each wrapper's process group (a sandbox dies with its wrapper: bubblewrap's --die-with-parent). */
function killGroups(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
}

/** Paths 2 and 3 together, one job of each in turn. */
async function throughExecutors(isolations: ('none' | 'sandbox')[]): Promise<PathResult[]> {
  const executors = isolations.map((isolation) => createLocalExecutor({ isolation, sandbox: sandboxConfig }));
  const pids: number[] = [];
  let ended = 0;
  for (const executor of executors) {
    executor.onEvent((event) => {
      if (event.type === 'ended') ended += 1;
    });
  }
  const results = await measure(
    isolations.map((isolation, which) => ({
      name: isolation,
      async startOne(index, workDir) {
        const handle = await executors[which]!.start(spec(isolation, index, workDir));
        pids.push(Number(handle.externalId.split(':')[0]));
        return undefined;
      },
    })),
  );
  // The executors see the wrappers exit, find nothing left, remove the cgroups and report the ends
  // (cancel() would scan /proc twice per workload: quadratic with hundreds of them).
  killGroups(pids);
  const deadline = performance.now() + 20_000;
  while (ended < pids.length && performance.now() < deadline) await sleep(100);
  for (const executor of executors) await executor.shutdown();
  return results;
}

/** Per job, when each step of submit → running happened (performance.now()). */
interface Marks {
  id?: string;
  submit: number;
  submitted?: number;
  admitBegin?: number;
  admitEnd?: number;
  /** Time spent in Cedar's authorize during the admission. */
  authorizeMs?: number;
  claimBegin?: number;
  tokenBegin?: number;
  tokenEnd?: number;
  claimEnd?: number;
  startBegin?: number;
  startEnd?: number;
  seen?: number;
  /** Watches the job's work directory, set up before executor.start. */
  marker?: Marker;
}

/** Loads the platform (before any path runs); returns the run of the submit → running path. */
async function loadPlatform() {
  const marks: Marks[] = [];
  const pids: number[] = [];
  // Jobs go one at a time: every step observed belongs to the job in flight (the runner may claim it
  // before submit has returned its id).
  let current: Marks | undefined;
  const inFlight = (jobId: string): Marks | undefined =>
    current && (current.id === undefined || current.id === jobId) ? current : undefined;
  const inner = createLocalExecutor({ sandbox: sandboxConfig });
  // The platform's own local executor (the options platform.ts gives it), its start timed.
  const local: Executor = {
    ...inner,
    async start(workload) {
      const mark = inFlight(workload.id);
      if (mark) mark.marker = whenReady(workload.workDir);
      if (mark) mark.startBegin = performance.now();
      const handle = await inner.start(workload);
      if (mark) mark.startEnd = performance.now();
      pids.push(Number(handle.externalId.split(':')[0]));
      return handle;
    },
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-bench-platform-'));
  const authorizer = createCedarAuthorizer({ policiesDir: join(repoRoot, 'policies') });
  const authorize = authorizer.authorize.bind(authorizer);
  (authorizer as typeof authorizer & Record<string, unknown>).authorize = (
    request: Parameters<typeof authorize>[0],
  ) => {
    const begin = performance.now();
    const decision = authorize(request);
    if (current) current.authorizeMs = (current.authorizeMs ?? 0) + performance.now() - begin;
    return decision;
  };
  const platform = await createPlatform({
    dataDir,
    sqliteFile: join(dataDir, 'aicloud.db'),
    seedFile: demoSeedFile,
    catalogDir: join(repoRoot, 'catalog'),
    meterIntervalMs: 3_600_000,
    executors: { local },
    authorizer,
  });
  // The runner creates the job's run token inside its start transaction (the claim), through the same
  // identity service and the same Kysely instance as these.
  const identity = platform.identity as typeof platform.identity & Record<string, unknown>;
  const createToken = platform.identity.createTokenInTrx.bind(platform.identity);
  identity.createTokenInTrx = async (...args: Parameters<typeof createToken>) => {
    const jobId = /^run:(.+)$/.exec(args[2].name)?.[1];
    const mark = jobId ? inFlight(jobId) : undefined;
    if (mark) mark.tokenBegin = performance.now();
    const token = await createToken(...args);
    if (mark) mark.tokenEnd = performance.now();
    return token;
  };
  const db = platform.store.db as typeof platform.store.db & Record<string, unknown>;
  const transaction = platform.store.db.transaction.bind(platform.store.db);
  db.transaction = () => {
    const builder = transaction();
    const execute = builder.execute.bind(builder);
    builder.execute = async <T>(work: (trx: Parameters<Parameters<typeof execute>[0]>[0]) => Promise<T>) => {
      const begin = performance.now();
      const mark = current;
      const tokenBefore = mark?.tokenBegin;
      const value = await execute(work);
      // The transaction in which the job's run token was created is its claim; the one before, its admission.
      if (mark && mark.tokenBegin !== undefined && tokenBefore === undefined) {
        mark.claimBegin = begin;
        mark.claimEnd = performance.now();
      } else if (mark && mark.admitBegin === undefined && mark.tokenBegin === undefined) {
        mark.admitBegin = begin;
        mark.admitEnd = performance.now();
      }
      return value;
    };
    return builder;
  };
  await platform.store.db.updateTable('budgets').set({ max_budget_micros: 1e12 }).execute();
  const credentials = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  const actor = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: null };

  return async function submitToRunning() {
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    // How long the event loop was held up (the executor's /proc scans and log polls of every tracked
    // workload share it with the runner).
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const [result] = await measure([
      {
        name: 'platform',
        startOne: async () => {
          const mark: Marks = { submit: performance.now() };
          current = mark;
          const { job } = await platform.jobs.submit(actor, {
            product: 'batch-inference',
            maxRuntime: '1m',
            command,
          });
          mark.submitted = performance.now();
          mark.id = job!.id;
          // Running = the executor has spawned the process and the runner recorded it.
          for (;;) {
            const row = await platform.store.db
              .selectFrom('jobs')
              .select(['external_id'])
              .where('id', '=', job!.id)
              .executeTakeFirstOrThrow();
            if (row.external_id) break;
            await new Promise((resolve) => setImmediate(resolve));
          }
          mark.seen = performance.now();
          marks.push(mark);
          current = undefined;
          return mark.marker;
        },
      },
    ]);
    loopDelay.disable();
    global.gc?.();
    const heapPerJob = (process.memoryUsage().heapUsed - heapBefore) / marks.length;
    // Kill the wrappers rather than cancel hundreds of jobs one by one; the runner records their ends.
    killGroups(pids);
    const deadline = performance.now() + 20_000;
    while (performance.now() < deadline) {
      const running = await platform.store.db
        .selectFrom('jobs')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'running')
        .executeTakeFirstOrThrow();
      if (Number(running.n) === 0) break;
      await sleep(100);
    }
    await platform.runner.idle();
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
    return {
      ...result!,
      heapPerJob,
      marks,
      isolation: inner.isolation,
      loopDelayMs: [50, 99, 100].map((p) => loopDelay.percentile(p) / 1e6),
    };
  };
}

// The platform's workloads are sandboxed where the machine allows it: path 4 mirrors what the server does.
const benchBegin = performance.now();
const throughPlatform = await loadPlatform();
const support = sandboxSupport();
const [none, sandbox] = (await throughExecutors(support.ok ? ['none', 'sandbox'] : ['none'])) as [
  PathResult,
  PathResult | undefined,
];
const ours = await throughPlatform();
rmSync(scratch, { recursive: true, force: true });

const p50 = (values: number[]) => percentile(values, 50);
const ms = (value: number, width = 8) => (Number.isFinite(value) ? value.toFixed(2) : '–').padStart(width);
const raw = {
  started: [none.raw, ours.raw].flatMap((paired) => paired.started),
  ran: [none.raw, ours.raw].flatMap((paired) => paired.ran),
};
const row = (
  name: string,
  path: { started: number[]; ran: number[] },
  paired?: PathResult['raw'],
  seconds?: number,
) =>
  [
    name.padEnd(38),
    ms(p50(path.started), 11),
    ms(percentile(path.started, 99)),
    ms(p50(path.ran), 9),
    ms(percentile(path.ran, 99)),
    ms(paired ? p50(paired.started) : Number.NaN, 11),
    ms(paired ? p50(paired.ran) : Number.NaN, 9),
    (seconds ? (path.started.length / seconds).toFixed(1) : '').padStart(9),
    String(path.started.length).padStart(5),
  ].join(' ');
console.log(
  `trivial jobs (${command}), one after another in one process; ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)} at the end`,
);
console.log(
  [
    'ms'.padEnd(38),
    'started p50'.padStart(11),
    'p99'.padStart(8),
    'runs p50'.padStart(9),
    'p99'.padStart(8),
    'raw started'.padStart(11),
    'raw runs'.padStart(9),
    'starts/s'.padStart(9),
    'jobs'.padStart(5),
  ].join(' '),
);
console.log(row('1. spawn from Node (all baselines)', raw));
console.log(row('2. executor.start, isolation none', none, none.raw, none.seconds));
if (sandbox) console.log(row('3. executor.start, isolation sandbox', sandbox, sandbox.raw, sandbox.seconds));
else console.log(`3. executor.start, isolation sandbox: not measured: ${support.ok ? '' : support.reason}`);
console.log(row(`4. aicloud submit → running (${ours.isolation})`, ours, ours.raw, ours.seconds));
console.log(
  '("started": until the start resolved, the platform\'s "running"; "runs": until the command ran; "raw": p50 of the paired spawns)',
);
if (sandbox) {
  console.log(
    `sandbox − none at p50: ${(p50(sandbox.started) - p50(none.started)).toFixed(1)} ms until started, ${(p50(sandbox.ran) - p50(none.ran)).toFixed(1)} ms until the command runs (goal ≤ 20 ms)`,
  );
}
console.log(
  `submit→running ÷ raw spawn at p50: ${(p50(ours.started) / p50(ours.raw.started)).toFixed(2)}× (goal ≤ 1.5×); until the command runs ${(p50(ours.ran) / p50(ours.raw.ran)).toFixed(2)}×`,
);

// Where submit→running goes, step by step (p50 and p99 of each step over the jobs).
const d = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? undefined : to - from;
const steps: [string, (mark: Marks) => number | undefined][] = [
  ['submit (resolve, policy, admission transaction)', (m) => d(m.submit, m.submitted)],
  ['  of which the admission transaction', (m) => d(m.admitBegin, m.admitEnd)],
  ['    of which Cedar authorize', (m) => m.authorizeMs],
  ['submit returned → start transaction begins', (m) => d(m.submitted, m.claimBegin)],
  ['start transaction (claim, run token, audit)', (m) => d(m.claimBegin, m.claimEnd)],
  ['  of which run-token creation', (m) => d(m.tokenBegin, m.tokenEnd)],
  ['transaction → executor.start (spec, secrets)', (m) => d(m.claimEnd, m.startBegin)],
  ['executor.start', (m) => d(m.startBegin, m.startEnd)],
  ['executor.start → external_id recorded, seen', (m) => d(m.startEnd, m.seen)],
];
console.log(
  `submit→running by step (p50, p99 ms over ${ours.marks.length} jobs; total p50 ${p50(ours.started).toFixed(2)}):`,
);
for (const [name, of] of steps) {
  const values = ours.marks.map(of).filter((value): value is number => value !== undefined);
  console.log(`  ${name.padEnd(48)} ${ms(p50(values))} ${ms(percentile(values, 99))}`);
}
const tenth = Math.max(1, Math.floor(ours.started.length / 10));
console.log(
  `submit→running p50 of the first ${tenth} jobs ${p50(ours.started.slice(0, tenth)).toFixed(2)} ms, of the last ${tenth} (with ${ours.started.length - tenth} more tracked) ${p50(ours.started.slice(-tenth)).toFixed(2)} ms`,
);
const [loop50, loop99, loopMax] = ours.loopDelayMs;
console.log(
  `event-loop delay during path 4: p50 ${loop50!.toFixed(1)} ms, p99 ${loop99!.toFixed(1)} ms, max ${loopMax!.toFixed(1)} ms`,
);
console.log(`platform heap per tracked job: ${(ours.heapPerJob / 1024).toFixed(1)} KiB`);
console.log(`the whole bench took ${((performance.now() - benchBegin) / 1000).toFixed(0)} s`);
