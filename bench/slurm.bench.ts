// Benchmark of the Slurm executor: `npm run bench:slurm [-- --jobs 200 --rounds 40 --partition gpu]`, on
// the cluster of scripts/services/slurm-up.sh (or any cluster whose partition takes trivial jobs).
// In one run, interleaved in small rounds (the order rotating each round) so that machine noise and a
// slurmctld busier with a longer queue hit every path alike; the executor keeps polling in the background
// throughout (the raw loop runs asynchronously), as it would on a cluster that aicloud shares with others:
//   - aicloud: `jobs` trivial workloads through createSlurmExecutor().start(), one after another, as a
//     raw loop would (the executor renders the script, makes the workload's folder, runs
//     `sbatch --parsable`; it polls the queue in the background every 2 s, as in production);
//   - raw: `jobs` submissions by a bash loop of `sbatch --parsable --wrap=…` (timed inside bash);
//   - aicloud, 4 in flight: `jobs` more through start(), four at a time, as the admission controller
//     starts what one tick admitted (reported apart; the goal is read on the sequential path).
// The jobs sleep, so that all of them stay tracked. Reports submissions per second and the ratio
// (goal ≥ 0.9×), then the Slurm commands one poll cycle issues as the number of tracked jobs grows
// (goal: constant), and cancels every job it submitted.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { WorkloadSpec } from '../packages/executors/src/executor.ts';
import { localSlurmRunner } from '../packages/executors/src/slurm/slurm-command.ts';
import { createSlurmExecutor } from '../packages/executors/src/slurm/slurm-executor.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '40' },
    partition: { type: 'string', default: 'gpu' },
  },
});
const jobCount = Number(values.jobs);
const rounds = Number(values.rounds);
const partition = values.partition;
const perRound = Math.ceil(jobCount / rounds);
const goal = 0.9;
const command = 'sleep 300';

try {
  execFileSync('sinfo', ['-h', '-p', partition, '-o', '%a'], { stdio: 'ignore' });
} catch {
  console.error(
    `bench:slurm needs a Slurm cluster with partition ${partition}: run scripts/services/slurm-up.sh`,
  );
  process.exit(1);
}

const root = mkdtempSync(join(tmpdir(), 'aicloud-bench-slurm-'));
const run = localSlurmRunner();
const executor = createSlurmExecutor({ partition, run });
const tag = `b${process.pid}`;
const submitted: string[] = [];
const paths = {
  aicloud: { jobs: 0, seconds: 0, label: 'aicloud (createSlurmExecutor().start)' },
  raw: { jobs: 0, seconds: 0, label: 'raw sbatch loop (bash)' },
  concurrent: { jobs: 0, seconds: 0, label: 'aicloud, 4 starts in flight' },
};
type PathName = keyof typeof paths;
const pollAt: { tracked: number; commands: number; ms: number }[] = [];

const spec = (name: string): WorkloadSpec => {
  const id = `${tag}_${name}`;
  return {
    id,
    command,
    workDir: join(root, id),
    env: {},
    gpus: [],
    maxRuntimeSeconds: 600,
    graceSeconds: 10,
    secrets: {},
    logFile: join(root, id, 'output.log'),
    outputDir: join(root, id, 'output'),
    checkpointDir: join(root, id, 'checkpoints'),
  };
};

/** One poll cycle, timed, with what it cost. */
async function measurePoll(): Promise<void> {
  await executor.poll(); // joins a background cycle in flight, which may have begun with fewer jobs
  const t0 = performance.now();
  await executor.poll();
  const ms = performance.now() - t0;
  const stats = executor.pollStats();
  pollAt.push({ tracked: stats.lastCycleJobs, commands: stats.lastCycleCommands, ms });
}

async function submit(path: PathName, round: number, count: number): Promise<void> {
  const names = Array.from({ length: count }, (_, n) => `${path}_${round}_${n}`);
  if (path === 'raw') {
    // Timed inside bash, so that starting bash from Node is not counted against the raw loop.
    const loop = [
      't0=$(date +%s%N)',
      `for name in ${names.join(' ')}; do`,
      `  sbatch --parsable --partition=${partition} --job-name="raw-$name" --time=10 --output=/dev/null --wrap='${command}' || exit 1`,
      'done',
      'echo "elapsed_ns $(( $(date +%s%N) - t0 ))"',
    ].join('\n');
    const { stdout } = await promisify(execFile)('bash', ['-c', loop], { encoding: 'utf8', cwd: root });
    const lines = stdout.trim().split('\n');
    const elapsed = Number(lines.pop()?.split(' ')[1]);
    submitted.push(...lines.map((line) => line.split(';')[0] ?? ''));
    paths.raw.seconds += elapsed / 1e9;
    paths.raw.jobs += count;
    return;
  }
  const t0 = performance.now();
  if (path === 'aicloud') {
    for (const name of names) submitted.push((await executor.start(spec(name))).externalId);
  } else {
    const queue = [...names];
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        submitted.push((await executor.start(spec(name))).externalId);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }
  paths[path].seconds += (performance.now() - t0) / 1000;
  paths[path].jobs += count;
}

try {
  // The first start of an executor instance first lists the queue once (squeue --json), to adopt jobs an
  // earlier instance submitted instead of submitting them twice: a cost per process, reported apart.
  const w0 = performance.now();
  submitted.push((await executor.start(spec('warmup'))).externalId);
  const firstStartMs = performance.now() - w0;
  const order: PathName[] = ['aicloud', 'raw', 'concurrent'];
  for (let round = 0; round < rounds; round += 1) {
    const count = Math.min(perRound, jobCount - round * perRound);
    if (count <= 0) break;
    for (let k = 0; k < order.length; k += 1) await submit(order[(round + k) % order.length]!, round, count);
    if (round === 0 || round === Math.floor(rounds / 4) || round === Math.floor(rounds / 2))
      await measurePoll();
  }
  await measurePoll();

  const rate = (path: PathName) => paths[path].jobs / paths[path].seconds;
  const ratio = rate('aicloud') / rate('raw');
  console.log(
    `Slurm submissions: partition ${partition}, ${rounds} interleaved rounds, node ${process.version}, ` +
      `load average ${loadavg()[0]?.toFixed(1)}\n`,
  );
  console.log(
    `${'path'.padEnd(44)}${'jobs'.padStart(6)}${'seconds'.padStart(10)}${'submits/s'.padStart(12)}`,
  );
  for (const path of ['aicloud', 'raw', 'concurrent'] as const) {
    const { label, jobs, seconds } = paths[path];
    console.log(
      `${label.padEnd(44)}${String(jobs).padStart(6)}${seconds.toFixed(2).padStart(10)}${rate(path).toFixed(1).padStart(12)}`,
    );
  }
  console.log(
    `\nfirst start of the executor (one squeue --json snapshot first): ${firstStartMs.toFixed(0)} ms\n` +
      `aicloud / raw, one at a time: ${ratio.toFixed(2)}× (goal ≥ ${goal}×) ${ratio >= goal ? 'MET' : 'NOT MET'}`,
  );
  console.log(`aicloud, 4 in flight / raw: ${(rate('concurrent') / rate('raw')).toFixed(2)}×`);
  console.log(
    `\nSlurm commands per poll cycle (one squeue --json for all jobs, ours filtered on our side; ` +
      `${executor.pollStats().cycles} cycles in the run):`,
  );
  for (const { tracked, commands, ms } of pollAt) {
    console.log(`  ${String(tracked).padStart(4)} jobs tracked: ${commands} command(s), ${ms.toFixed(0)} ms`);
  }
  const constant = new Set(pollAt.map((p) => p.commands)).size === 1;
  console.log(`polling cost independent of the job count: ${constant ? 'MET' : 'NOT MET'}`);
} finally {
  await executor.shutdown();
  const all = submitted.filter(Boolean);
  for (let n = 0; n < all.length; n += 500) await run('scancel', all.slice(n, n + 500));
  console.log(`\ncancelled the ${all.length} jobs submitted`);
  rmSync(root, { recursive: true, force: true });
}
