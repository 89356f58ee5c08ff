// npm run bench:cli [-- --runs 15] [--idle-seconds 3]: how long one `aicloud` command takes next to the cost of
// starting Node itself, in one run, spawned the same way (so spawn and machine load cost the same for all):
//   - `node -e 0`: the floor every Node CLI pays;
//   - `aicloud --version` (goal ≤ 1.5× node -e 0);
//   - `aicloud jobs list` against a running server (goal ≤ 2× node -e 0 + the request's own time);
//   - the request alone: GET /v1/jobs from this process over a fresh connection (what the CLI sends), and
//     with curl when it is installed (a process too, so its own start is included);
//   - both commands again with AICLOUD_CLI_SOURCES=1: the sources through tsx, what the bin falls back to when
//     apps/cli/dist is missing or stale.
// The server is `aicloud up` on a scratch data dir, started twice: its time to a healthy /healthz on the second
// start (goal ≤ 1 s; the first seeds the demo organisation) and its RSS after --idle-seconds idle (goal ≤ 150 MiB).
// The CLI is built first (apps/cli/scripts/build.mjs, what `npm ci` runs as the root's `prepare`).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const option = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const runs = option('--runs', 15);
const idleSeconds = option('--idle-seconds', 3);
const repoRoot = join(import.meta.dirname, '..');
const bin = join(repoRoot, 'apps/cli/bin/aicloud.mjs');
const buildScript = join(repoRoot, 'apps/cli/scripts/build.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'aicloud-bench-cli-'));
const dataDir = join(scratch, 'data');
/** The children get this process's environment without its loader flags or a saved login. */
const baseEnv: NodeJS.ProcessEnv = { ...process.env, AICLOUD_CONFIG_DIR: join(scratch, 'config') };
delete baseEnv.NODE_OPTIONS;
delete baseEnv.AICLOUD_URL;
delete baseEnv.AICLOUD_TOKEN;
delete baseEnv.AICLOUD_CLI_SOURCES;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const median = (values: number[]) => percentile(values, 50);
const ms = (value: number) => `${value.toFixed(1)} ms`;
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** One GET over a fresh connection (as a CLI process makes it); resolves with the status and the time taken. */
function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    request.on('error', reject);
  });
}

/** Runs a command to its end; the wall time from spawn to exit, and what it printed. */
function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = baseEnv,
): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  const t0 = performance.now();
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr }));
  });
}

interface Up {
  child: ChildProcess;
  healthyMs: number;
  exited: Promise<void>;
}

/** `aicloud up` on the scratch data dir; resolves when /healthz answers 200. */
async function up(port: number): Promise<Up> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'up', '--data-dir', dataDir, '--port', String(port)], {
    env: baseEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  let gone = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      gone = true;
      resolve();
    }),
  );
  for (;;) {
    if (gone) throw new Error(`aicloud up exited before it was healthy:\n${stderr}`);
    if (performance.now() - t0 > 180_000) throw new Error(`aicloud up not healthy after 180 s:\n${stderr}`);
    try {
      if ((await httpGet(`http://127.0.0.1:${port}/healthz`)).status === 200)
        return { child, healthyMs: performance.now() - t0, exited };
    } catch {}
    await sleep(5);
  }
}

/** Resident memory of a process (Linux), in MiB. */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

async function stop(server: Up): Promise<void> {
  server.child.kill('SIGTERM');
  await Promise.race([server.exited, sleep(20_000)]);
}

// The build `npm ci` runs, then which way the bin goes.
if (existsSync(buildScript)) {
  const build = spawnSync(process.execPath, [buildScript], { env: baseEnv, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the CLI build failed:\n${build.stdout}${build.stderr}`);
}
const mode = await timed(process.execPath, [bin, '--help'], { ...baseEnv, AICLOUD_CLI_DEBUG: '1' });
const modeLine = mode.stderr.split('\n').find((line) => line.startsWith('aicloud:')) ?? '(no trace)';

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const first = await up(port);
await stop(first);
const server = await up(port);
try {
  await sleep(idleSeconds * 1000);
  const idleRss = rssMiB(server.child.pid!);
  const tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  const token: string = tokens.alice.token;
  const cliEnv = { ...baseEnv, AICLOUD_URL: url, AICLOUD_TOKEN: token };
  const sourcesEnv = { ...cliEnv, AICLOUD_CLI_SOURCES: '1' };
  const headers = { authorization: `Bearer ${token}` };
  const jobsUrl = `${url}/v1/jobs?limit=100`;
  const hasCurl = spawnSync('curl', ['--version']).status === 0;

  const check = (what: string, outcome: { code: number | null; stdout: string; stderr: string }) => {
    if (outcome.code !== 0) throw new Error(`${what} exited ${outcome.code}:\n${outcome.stderr}`);
  };
  // Warm the page cache and the server's first request.
  check('aicloud --version', await timed(process.execPath, [bin, '--version']));
  const warm = await timed(process.execPath, [bin, 'jobs', 'list'], cliEnv);
  check('aicloud jobs list', warm);
  if (!warm.stdout.startsWith('ID')) throw new Error(`aicloud jobs list printed:\n${warm.stdout}`);
  await httpGet(jobsUrl, headers);

  const samples: Record<string, number[]> = {
    'node -e 0': [],
    'aicloud --version': [],
    'aicloud jobs list': [],
    'request alone (fresh connection)': [],
    ...(hasCurl ? { 'curl (process + request)': [] } : {}),
  };
  for (let round = 0; round < runs; round += 1) {
    samples['node -e 0']!.push((await timed(process.execPath, ['-e', '0'])).ms);
    const version = await timed(process.execPath, [bin, '--version']);
    check('aicloud --version', version);
    samples['aicloud --version']!.push(version.ms);
    const list = await timed(process.execPath, [bin, 'jobs', 'list'], cliEnv);
    check('aicloud jobs list', list);
    samples['aicloud jobs list']!.push(list.ms);
    const alone = await httpGet(jobsUrl, headers);
    if (alone.status !== 200) throw new Error(`GET /v1/jobs answered ${alone.status}`);
    samples['request alone (fresh connection)']!.push(alone.ms);
    if (hasCurl)
      samples['curl (process + request)']!.push(
        (await timed('curl', ['-fsS', '-o', '/dev/null', '-H', `authorization: Bearer ${token}`, jobsUrl]))
          .ms,
      );
  }
  const sourceRuns = Math.max(3, Math.ceil(runs / 3));
  const fromSources: Record<string, number[]> = { 'aicloud --help': [], 'aicloud jobs list': [] };
  for (let round = 0; round < sourceRuns; round += 1) {
    fromSources['aicloud --help']!.push((await timed(process.execPath, [bin, '--help'], sourcesEnv)).ms);
    const list = await timed(process.execPath, [bin, 'jobs', 'list'], sourcesEnv);
    check('aicloud jobs list (sources)', list);
    fromSources['aicloud jobs list']!.push(list.ms);
  }

  const node = median(samples['node -e 0']!);
  const version = median(samples['aicloud --version']!);
  const list = median(samples['aicloud jobs list']!);
  const request = median(samples['request alone (fresh connection)']!);
  const versionRatio = version / node;
  const listRatio = (list - request) / node;
  console.log(
    `aicloud CLI start-up: ${runs} rounds, interleaved; ${cpus().length} CPUs, load ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  console.log(`bin: ${modeLine.replace(/^aicloud: /, '')}`);
  // Node reads this file at every start, which raises the floor (node -e 0) for everything measured alike.
  if (process.env.NODE_EXTRA_CA_CERTS) console.log(`NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`);
  console.log('');
  console.log('                                     p50          p90          min');
  for (const [name, values] of Object.entries(samples))
    console.log(
      `  ${name.padEnd(34)} ${ms(median(values)).padStart(10)}   ${ms(percentile(values, 90)).padStart(10)}   ${ms(Math.min(...values)).padStart(10)}`,
    );
  console.log(`  sources through tsx (AICLOUD_CLI_SOURCES=1, ${sourceRuns} rounds):`);
  for (const [name, values] of Object.entries(fromSources))
    console.log(
      `  ${`  ${name}`.padEnd(34)} ${ms(median(values)).padStart(10)}   ${ms(percentile(values, 90)).padStart(10)}   ${ms(Math.min(...values)).padStart(10)}`,
    );
  console.log('');
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  console.log(
    `aicloud --version ÷ node -e 0:                     ${versionRatio.toFixed(2)}× (goal ≤ 1.5×) ${verdict(versionRatio <= 1.5)}`,
  );
  console.log(
    `(aicloud jobs list − request) ÷ node -e 0:         ${listRatio.toFixed(2)}× (goal ≤ 2×) ${verdict(listRatio <= 2)}`,
  );
  console.log(
    `server: healthy after ${ms(server.healthyMs)} on the second start (first: ${ms(first.healthyMs)}; goal ≤ 1000 ms) ${verdict(server.healthyMs <= 1000)}`,
  );
  console.log(
    `server: RSS ${idleRss.toFixed(1)} MiB after ${idleSeconds} s idle (goal ≤ 150 MiB) ${verdict(idleRss <= 150)}`,
  );
} finally {
  await stop(server);
  rmSync(scratch, { recursive: true, force: true });
}
