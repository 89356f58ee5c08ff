// npm run bench:gateway: the gateway at line rate, measured from outside. The platform runs in its own process
// (bench/gateway-server.mjs: the server `aicloud up` runs, with the bench-stub runtime); the load comes from
// wrk (Debian's `wrk`, a separate process) with bench/gateway-post.lua, against (a) the same stub on a loopback
// port, directly, and (b) the gateway (keys, rate limits, quota, budget and metering on), in one run. Reports
// p50/p99 at c=1 and c=32, requests/s, the ratio to direct, and the gateway process's CPU per request from
// /proc/PID/stat (utime+stime delta over requests served, its idle rate subtracted); the control plane's p50
// (GET /v1/whoami, 200 sequential requests from curl) idle and while wrk saturates the gateway; a second
// two fresh platforms, telemetry on and off, for the telemetry's share, and the telemetry's recording alone against the SDK's
// own instruments (bench/telemetry-recording.ts); and Portkey's open-source gateway against the same
// stub when `@portkey-ai/gateway` is installed (or PORTKEY_GATEWAY names its start-server.js).
// With --workers N (default 2; 0 for none), a platform with `--gateway-workers N` too: its rows, its CPU per
// request summed over the primary and the workers (and the primary's alone), its control plane under load.
// Options: --seconds N (each wrk run, default 5), --rounds N (default 2), --cpu-prof DIR (profile the
// gateway process under c=32 only, with node --cpu-prof; written when it stops).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient } from '@aicloud/client';
import { request } from 'undici';
import { telemetryRecordingCost } from './telemetry-recording.ts';

const repoRoot = join(import.meta.dirname, '..');
const stub = join(repoRoot, 'bench/stub-upstream.mjs');
const lua = join(repoRoot, 'bench/gateway-post.lua');
const option = (name: string) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;
const seconds = Number(option('--seconds') ?? 5);
const rounds = Number(option('--rounds') ?? 2);
const cpuProfDir = option('--cpu-prof');
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const payload = readFileSync(lua, 'utf8').match(/wrk\.body = '(.*)'/)?.[1] ?? '';

if (
  !existsSync('/usr/bin/wrk') &&
  !process.env.PATH?.split(':').some((dir) => existsSync(join(dir, 'wrk')))
) {
  process.stderr.write('bench:gateway needs wrk: sudo apt-get install -y wrk\n');
  process.exit(2);
}
if (!existsSync(join(repoRoot, 'apps/cli/dist/server.mjs'))) {
  process.stderr.write('bench:gateway runs the built server: npm run build:cli first\n');
  process.exit(2);
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** CPU seconds a process has used (user + system), from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), itself in parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const children: ChildProcess[] = [];
/** Spawns a process and resolves with it and its first stdout line. */
async function spawnWithLine(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)));
  });
  child.stdout!.resume();
  return { child, line };
}

async function waitHealthy(url: string): Promise<void> {
  for (;;) {
    try {
      const response = await request(url);
      await response.body.dump();
      if (response.statusCode < 500) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface WrkResult {
  p50: number;
  p99: number;
  perSecond: number;
  requests: number;
  /** CPU µs per request of the measured process (its idle rate subtracted), when one is named. */
  cpuPerRequest: number | null;
  /** Of several processes, the first one's alone (a gateway workers' primary: its admission work). */
  cpuFirstPerRequest: number | null;
}

/** Milliseconds of one of wrk's durations (`143.00us`, `1.20ms`, `2.00s`). */
function milliseconds(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`wrk duration ${text}?`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}

/** Runs wrk (one thread, `connections` connections) against `url`; the CPU of process `pid` meanwhile. */
async function wrk(
  url: string,
  connections: number,
  options: {
    authorization?: string;
    extraHeaders?: string;
    /** The measured process, or processes (a primary and its gateway workers: their CPU summed). */
    pid?: number | number[];
    /** Their idle rate (the sum's, for several). */
    idleRate?: number;
    duration?: number;
  } = {},
): Promise<WrkResult> {
  const duration = options.duration ?? seconds;
  const pids = options.pid === undefined ? [] : [options.pid].flat();
  const cpuOf = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpuBefore = cpuOf();
  const firstBefore = pids[0] === undefined ? 0 : cpuSeconds(pids[0]);
  const t0 = performance.now();
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, '--latency', '-s', lua, url], {
      env: {
        ...process.env,
        BENCH_AUTHORIZATION: options.authorization ?? '',
        BENCH_EXTRA_HEADERS: options.extraHeaders ?? '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}`))));
  });
  const elapsed = (performance.now() - t0) / 1000;
  const cpuAfter = cpuOf();
  const firstAfter = pids[0] === undefined ? 0 : cpuSeconds(pids[0]);
  const failed = /Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1];
  const errors = /Socket errors: (.*)/.exec(output)?.[1];
  if (failed || errors)
    throw new Error(`wrk against ${url}: ${failed ?? 0} non-2xx; socket errors: ${errors}\n${output}`);
  const latency = (p: string) =>
    milliseconds(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(output)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(output)?.[1]);
  const cpu = cpuAfter - cpuBefore - (options.idleRate ?? 0) * elapsed;
  return {
    p50: latency('50'),
    p99: latency('99'),
    perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]),
    requests,
    cpuPerRequest: pids.length > 0 ? (cpu * 1e6) / requests : null,
    cpuFirstPerRequest: pids.length > 1 ? ((firstAfter - firstBefore) * 1e6) / requests : null,
  };
}

/** CPU seconds per second processes use while nobody calls them (the controller loop), summed. */
async function idleRate(pid: number | number[]): Promise<number> {
  const pids = [pid].flat();
  const cpu = () => pids.reduce((sum, one) => sum + cpuSeconds(one), 0);
  const before = cpu();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  return (cpu() - before) / 3;
}

/** p50 of 200 sequential GET /v1/whoami from one curl process (one keep-alive connection), in ms. */
async function controlPlaneP50(url: string, token: string): Promise<number> {
  const config = Array.from(
    { length: 200 },
    () => `url = "${url}/v1/whoami"\noutput = "/dev/null"\nheader = "authorization: Bearer ${token}"\n`,
  ).join('');
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('curl', ['-sS', '--fail', '-w', '%{time_total}\\n', '-K', '-'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`curl exited with ${code}`)),
    );
    child.stdin.end(config);
  });
  const times = output
    .trim()
    .split('\n')
    .map((line) => Number(line) * 1000);
  if (times.length !== 200) throw new Error(`curl answered ${times.length} of 200`);
  return percentile(times, 50);
}

const work = mkdtempSync(join(tmpdir(), 'aicloud-bench-gateway-'));
const modelDir = join(work, 'model');
mkdirSync(modelDir);
writeFileSync(join(modelDir, 'config.json'), '{"runtime":"bench-stub"}');

/** A platform process with the stub endpoint deployed (scale to zero) and a key without practical limits. */
async function platformProcess(name: string, args: string[] = [], nodeOptions: string[] = []) {
  const dataDir = join(work, name);
  const { child, line } = await spawnWithLine(process.execPath, [
    ...nodeOptions,
    join(repoRoot, 'bench/gateway-server.mjs'),
    dataDir,
    work,
    ...args,
  ]);
  const { url, pid, gatewayUrl, workerPids } = JSON.parse(line) as {
    url: string;
    pid: number;
    gatewayUrl?: string;
    workerPids: number[];
  };
  const tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  const alice = createClient({ url, token: tokens.alice.token });
  await alice.models.register({ name: 'bench-stub', source: `path:${modelDir}`, runtime: 'bench-stub' });
  await alice.endpoints.deploy({
    model: 'bench-stub',
    version: 1,
    scaleToZero: true,
    maxReplicas: 1,
    targetConcurrency: 1000,
  });
  const key = (
    await alice.keys.create({
      endpoint: 'bench-stub',
      rpm: 1_000_000_000,
      tpm: 1_000_000_000,
      maxTokensPerPeriod: 1_000_000_000_000,
      period: '30d',
    })
  ).key;
  const authorization = `Bearer ${key}`;
  // Cold start through the gateway (scale from zero).
  const coldT0 = performance.now();
  const first = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: payload,
  });
  const firstText = await first.body.text();
  if (first.statusCode !== 200) throw new Error(`first request: ${first.statusCode} ${firstText}`);
  const coldMs = performance.now() - coldT0;
  return {
    child,
    url,
    pid,
    gatewayUrl,
    workerPids,
    alice,
    token: tokens.alice.token as string,
    authorization,
    coldMs,
  };
}

const loadAtStart = loadAverage();
if (cpuProfDir && option('--cpu-prof-workers')) {
  // Profile mode for the gateway workers: the primary (their admission) profiled under c=32 on the workers' port.
  const count = Number(option('--cpu-prof-workers'));
  const profiled = await platformProcess(
    'dw',
    ['--gateway-workers', String(count)],
    ['--cpu-prof', '--cpu-prof-dir', cpuProfDir],
  );
  const pids = [profiled.pid, ...profiled.workerPids];
  const idle = await idleRate(pids);
  const url = `${profiled.gatewayUrl}/v1/chat/completions`;
  await wrk(url, 32, { authorization: profiled.authorization, duration: 2 });
  const loaded = await wrk(url, 32, { authorization: profiled.authorization, pid: pids, idleRate: idle });
  console.log(
    `profiled the primary of ${count} gateway workers: ${loaded.requests} requests at c=32, ${loaded.perSecond.toFixed(0)}/s, ${loaded.cpuPerRequest?.toFixed(0)} µs CPU each in all, ${loaded.cpuFirstPerRequest?.toFixed(0)} in the primary (load average ${loadAverage()}); profile in ${cpuProfDir}`,
  );
  await profiled.alice.endpoints.delete('bench-stub');
  for (const child of children) child.kill('SIGTERM');
  profiled.child.kill('SIGTERM');
  await new Promise((resolve) => profiled.child.once('exit', resolve));
  process.exit(0);
}
const gateway = await platformProcess(
  'data',
  [],
  cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [],
);
const directPort = 20_000 + Math.floor(Math.random() * 20_000);
const directT0 = performance.now();
const directChild = spawn(process.execPath, [stub, '--port', String(directPort)], { stdio: 'ignore' });
children.push(directChild);
const direct = `http://127.0.0.1:${directPort}`;
await waitHealthy(`${direct}/health`);
const directColdMs = performance.now() - directT0;
// The floor of any gateway written in Node: a bare proxy (node:http in, undici to a unix socket out, no work).
const bareSocket = join(work, 'bare.sock');
const bareStub = spawn(process.execPath, [stub, '--socket', bareSocket], { stdio: 'ignore' });
children.push(bareStub);
const barePort = directPort + 2;
const bareChild = spawn(
  process.execPath,
  [join(repoRoot, 'bench/bare-proxy.mjs'), '--port', String(barePort), '--socket', bareSocket],
  { stdio: 'ignore' },
);
children.push(bareChild);
const bare = `http://127.0.0.1:${barePort}`;
await waitHealthy(`${bare}/health`);
const bareIdle = await idleRate(bareChild.pid!);
const gatewayIdle = await idleRate(gateway.pid);
// The stub's own CPU per request: the floor of a Node HTTP server that does nothing but answer.
const directIdle = await idleRate(directChild.pid!);
if (cpuProfDir) {
  // Profile mode: only the gateway under load (c=32), so the profile shows the steady state.
  await wrk(`${gateway.url}/v1/chat/completions`, 1, { authorization: gateway.authorization, duration: 2 });
  const loaded = await wrk(`${gateway.url}/v1/chat/completions`, 32, {
    authorization: gateway.authorization,
    pid: gateway.pid,
    idleRate: gatewayIdle,
  });
  console.log(
    `profiled: ${loaded.requests} requests at c=32, ${loaded.perSecond.toFixed(0)}/s, ${loaded.cpuPerRequest?.toFixed(0)} µs CPU each (load average ${loadAverage()}); profile in ${cpuProfDir}`,
  );
  await gateway.alice.endpoints.delete('bench-stub');
  for (const child of children) child.kill('SIGTERM');
  await new Promise((resolve) => gateway.child.once('exit', resolve));
  process.exit(0);
}

let portkey: { origin: string; pid: number; headers: string } | null = null;
const portkeyStart =
  process.env.PORTKEY_GATEWAY ?? join(repoRoot, 'node_modules/@portkey-ai/gateway/build/start-server.js');
if (existsSync(portkeyStart)) {
  const port = directPort + 1;
  const child = spawn(process.execPath, [portkeyStart, `--port=${port}`], { stdio: 'ignore' });
  children.push(child);
  portkey = {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    headers: `x-portkey-provider:openai;x-portkey-custom-host:${direct}/v1`,
  };
  await waitHealthy(`${portkey.origin}/`);
}
const portkeyIdle = portkey ? await idleRate(portkey.pid) : 0;

// `aicloud up --gateway-workers N`: the data plane on the workers' port, admitted by the primary.
const workerCount = Number(option('--workers') ?? 2);
const pooled =
  workerCount > 0 ? await platformProcess('dw', ['--gateway-workers', String(workerCount)]) : null;
const pooledPids = pooled ? [pooled.pid, ...pooled.workerPids] : [];
const pooledIdle = pooled ? await idleRate(pooledPids) : 0;
const pooledUrl = `${pooled?.gatewayUrl}/v1/chat/completions`;

// Warm-up: each path once, briefly.
await wrk(`${direct}/v1/chat/completions`, 1, { duration: 1 });
await wrk(`${bare}/v1/chat/completions`, 32, { duration: 2 });
await wrk(`${gateway.url}/v1/chat/completions`, 1, { authorization: gateway.authorization, duration: 2 });
if (portkey)
  await wrk(`${portkey.origin}/v1/chat/completions`, 1, {
    authorization: 'Bearer unused',
    extraHeaders: portkey.headers,
    duration: 2,
  });
if (pooled) await wrk(pooledUrl, 32, { authorization: pooled.authorization, duration: 2 });

type Row = {
  direct: WrkResult;
  bare: WrkResult;
  gateway: WrkResult;
  workers: WrkResult | null;
  portkey: WrkResult | null;
};
const results: { c1: Row; c32: Row; load: string }[] = [];
for (let round = 0; round < rounds; round++) {
  const run = async (connections: number): Promise<Row> => ({
    direct: await wrk(`${direct}/v1/chat/completions`, connections, {
      pid: directChild.pid!,
      idleRate: directIdle,
    }),
    bare: await wrk(`${bare}/v1/chat/completions`, connections, { pid: bareChild.pid!, idleRate: bareIdle }),
    gateway: await wrk(`${gateway.url}/v1/chat/completions`, connections, {
      authorization: gateway.authorization,
      pid: gateway.pid,
      idleRate: gatewayIdle,
    }),
    workers: pooled
      ? await wrk(pooledUrl, connections, {
          authorization: pooled.authorization,
          pid: pooledPids,
          idleRate: pooledIdle,
        })
      : null,
    portkey: portkey
      ? await wrk(`${portkey.origin}/v1/chat/completions`, connections, {
          authorization: 'Bearer unused',
          extraHeaders: portkey.headers,
          pid: portkey.pid,
          idleRate: portkeyIdle,
        })
      : null,
  });
  results.push({ c1: await run(1), c32: await run(32), load: loadAverage() });
}

// The control plane, idle and while wrk saturates the gateway (c=32).
const controlIdle = await controlPlaneP50(gateway.url, gateway.token);
const saturating = wrk(`${gateway.url}/v1/chat/completions`, 32, {
  authorization: gateway.authorization,
  duration: 20,
});
await new Promise((resolve) => setTimeout(resolve, 1000));
const controlLoaded = await controlPlaneP50(gateway.url, gateway.token);
await saturating;
const loadAtControl = loadAverage();
// The same with the gateway workers: the control plane on the primary, the load on the workers' port.
let controlWorkers: { idle: number; loaded: number; load: string } | null = null;
if (pooled) {
  const idle = await controlPlaneP50(pooled.url, pooled.token);
  const saturatingWorkers = wrk(pooledUrl, 32, { authorization: pooled.authorization, duration: 20 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const loaded = await controlPlaneP50(pooled.url, pooled.token);
  await saturatingWorkers;
  controlWorkers = { idle, loaded, load: loadAverage() };
}

// Telemetry on vs off: two fresh platform processes, one with telemetry off, the same warm-up, then CPU per
// request (the measured gateway above has served every round's load: not the same history).
const on = await platformProcess('data-on');
const off = await platformProcess('data-off', ['--telemetry-off']);
for (const fresh of [on, off])
  await wrk(`${fresh.url}/v1/chat/completions`, 32, { authorization: fresh.authorization, duration: 2 });
const onIdle = await idleRate(on.pid);
const offIdle = await idleRate(off.pid);
const telemetryRounds: { on: number; off: number }[] = [];
// At c=32 (saturated: the steadiest CPU per request), in alternating order, so neither side always goes first.
const cpuAt32 = async (side: typeof on, idle: number) =>
  (
    await wrk(`${side.url}/v1/chat/completions`, 32, {
      authorization: side.authorization,
      pid: side.pid,
      idleRate: idle,
    })
  ).cpuPerRequest!;
for (let round = 0; round < Math.max(rounds, 2) * 2; round++) {
  if (round % 2 === 0) {
    const onCpu = await cpuAt32(on, onIdle);
    telemetryRounds.push({ on: onCpu, off: await cpuAt32(off, offIdle) });
  } else {
    const offCpu = await cpuAt32(off, offIdle);
    telemetryRounds.push({ off: offCpu, on: await cpuAt32(on, onIdle) });
  }
}
// The measured gateway after all its load, at c=1 with its idle rate measured again now.
const gatewayIdleAfter = await idleRate(gateway.pid);
const gatewayAfter = await wrk(`${gateway.url}/v1/chat/completions`, 1, {
  authorization: gateway.authorization,
  pid: gateway.pid,
  idleRate: gatewayIdleAfter,
});

const f = (value: number, digits = 3) => value.toFixed(digits);
console.log(
  `bench:gateway — wrk -t1 --latency, ${seconds} s per run, ${rounds} rounds, loopback; load average at start ${loadAtStart}`,
);
console.log(
  `gateway process idle: ${(gatewayIdle * 1000).toFixed(1)} ms CPU/s (subtracted); cold start ${gateway.coldMs.toFixed(0)} ms through the gateway vs ${directColdMs.toFixed(0)} ms starting the stub directly`,
);
const header = `${'round path'.padEnd(26)} ${'p50@1 ms'.padStart(9)} ${'p99@1 ms'.padStart(9)} ${'req/s@1'.padStart(9)} ${'p50@32 ms'.padStart(10)} ${'p99@32 ms'.padStart(10)} ${'req/s@32'.padStart(9)} ${'×direct@32'.padStart(10)} ${'CPU µs/req @1 / @32'.padStart(20)}`;
for (const [index, result] of results.entries()) {
  console.log(`round ${index + 1} (load average after: ${result.load})`);
  console.log(header);
  const line = (name: string, c1: WrkResult, c32: WrkResult) =>
    console.log(
      `${name.padEnd(26)} ${f(c1.p50).padStart(9)} ${f(c1.p99).padStart(9)} ${c1.perSecond.toFixed(0).padStart(9)} ${f(c32.p50).padStart(10)} ${f(c32.p99).padStart(10)} ${c32.perSecond.toFixed(0).padStart(9)} ${f(c32.perSecond / result.c32.direct.perSecond, 2).padStart(10)} ${(c1.cpuPerRequest === null ? '' : `${c1.cpuPerRequest.toFixed(0)} / ${c32.cpuPerRequest!.toFixed(0)}`).padStart(20)}`,
    );
  line('  direct to the stub', result.c1.direct, result.c32.direct);
  line('  bare Node proxy (floor)', result.c1.bare, result.c32.bare);
  line('  through aicloud', result.c1.gateway, result.c32.gateway);
  if (result.c1.workers && result.c32.workers)
    line(`  aicloud, ${workerCount} workers`, result.c1.workers, result.c32.workers);
  if (result.c1.portkey && result.c32.portkey)
    line('  through Portkey', result.c1.portkey, result.c32.portkey);
  console.log(
    `  aicloud adds p50 ${f(result.c1.gateway.p50 - result.c1.direct.p50)} ms, p99 ${f(result.c1.gateway.p99 - result.c1.direct.p99)} ms at c=1; ${f(result.c32.gateway.perSecond / result.c32.direct.perSecond, 2)}× direct at c=32 (goal ≥ 0.5×); CPU ${result.c32.gateway.cpuPerRequest!.toFixed(0)} µs/request at c=32 (goal ≤ 100)`,
  );
  console.log(
    `  the bare Node proxy: ${f(result.c32.bare.perSecond / result.c32.direct.perSecond, 2)}× direct at c=32 with ${result.c32.bare.cpuPerRequest!.toFixed(0)} µs CPU/request; aicloud's own work above it ${(result.c32.gateway.cpuPerRequest! - result.c32.bare.cpuPerRequest!).toFixed(0)} µs, ${f(result.c32.gateway.perSecond / result.c32.bare.perSecond, 2)}× its throughput`,
  );
  if (result.c1.workers && result.c32.workers)
    console.log(
      `  with ${workerCount} gateway workers: adds p50 ${f(result.c1.workers.p50 - result.c1.direct.p50)} ms at c=1; ${f(result.c32.workers.perSecond / result.c32.direct.perSecond, 2)}× direct at c=32; CPU ${result.c32.workers.cpuPerRequest!.toFixed(0)} µs/request at c=32, all processes (the primary's admission ${result.c32.workers.cpuFirstPerRequest!.toFixed(0)})`,
    );
  if (result.c1.portkey && result.c32.portkey)
    console.log(
      `  Portkey adds p50 ${f(result.c1.portkey.p50 - result.c1.direct.p50)} ms at c=1; ${f(result.c32.portkey.perSecond / result.c32.direct.perSecond, 2)}× direct at c=32`,
    );
}
if (!portkey) console.log('Portkey row: @portkey-ai/gateway is not installed (or set PORTKEY_GATEWAY)');
// Across rounds: the median of each round's ratio (a busy machine moves absolute figures between rounds).
const acrossRounds = (of: (row: (typeof results)[number]) => number) => {
  const sorted = results.map(of).sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
console.log(
  `median of ${rounds} rounds: aicloud adds p50 ${f(acrossRounds((r) => r.c1.gateway.p50 - r.c1.direct.p50))} ms at c=1, ${f(
    acrossRounds((r) => r.c32.gateway.perSecond / r.c32.direct.perSecond),
    2,
  )}× direct at c=32, ${acrossRounds((r) => r.c32.gateway.cpuPerRequest!).toFixed(0)} µs CPU/request at c=32 (the stub: ${acrossRounds((r) => r.c32.direct.cpuPerRequest!).toFixed(0)})${
    portkey
      ? `; Portkey ${f(
          acrossRounds((r) => r.c32.portkey!.perSecond / r.c32.direct.perSecond),
          2,
        )}× direct, ${acrossRounds((r) => r.c32.portkey!.cpuPerRequest!).toFixed(0)} µs`
      : ''
  }`,
);
console.log(
  `median of ${rounds} rounds, the bare Node proxy (floor): ${f(
    acrossRounds((r) => r.c32.bare.perSecond / r.c32.direct.perSecond),
    2,
  )}× direct at c=32, ${acrossRounds((r) => r.c32.bare.cpuPerRequest!).toFixed(0)} µs CPU/request; aicloud ${f(
    acrossRounds((r) => r.c32.gateway.perSecond / r.c32.bare.perSecond),
    2,
  )}× its throughput, ${acrossRounds((r) => r.c32.gateway.cpuPerRequest! - r.c32.bare.cpuPerRequest!).toFixed(0)} µs CPU/request above it`,
);
if (pooled)
  console.log(
    `median of ${rounds} rounds, ${workerCount} gateway workers: adds p50 ${f(acrossRounds((r) => r.c1.workers!.p50 - r.c1.direct.p50))} ms at c=1, ${f(
      acrossRounds((r) => r.c32.workers!.perSecond / r.c32.direct.perSecond),
      2,
    )}× direct at c=32 (${f(
      acrossRounds((r) => r.c32.workers!.perSecond / r.c32.gateway.perSecond),
      2,
    )}× one process), ${acrossRounds((r) => r.c32.workers!.cpuPerRequest!).toFixed(0)} µs CPU/request at c=32 in all (the primary's admission ${acrossRounds((r) => r.c32.workers!.cpuFirstPerRequest!).toFixed(0)})`,
  );
console.log(
  `control plane GET /v1/whoami p50 (200 sequential, curl): idle ${f(controlIdle)} ms, while wrk c=32 saturates the gateway ${f(controlLoaded)} ms = ${f(controlLoaded / controlIdle, 2)}× (goal ≤ 1.5×; load average ${loadAtControl})`,
);
if (controlWorkers)
  console.log(
    `control plane p50 with ${workerCount} gateway workers: idle ${f(controlWorkers.idle)} ms, while wrk c=32 saturates the workers ${f(controlWorkers.loaded)} ms = ${f(controlWorkers.loaded / controlWorkers.idle, 2)}× (goal ≤ 1.5×; load average ${controlWorkers.load})`,
  );
const median = (values: number[]) => percentile(values, 50);
const onCpu = median(telemetryRounds.map((r) => r.on));
const offCpu = median(telemetryRounds.map((r) => r.off));
console.log(
  `gateway CPU per request at c=32, two fresh platforms, median of ${telemetryRounds.length} alternating rounds: telemetry on ${onCpu.toFixed(0)} µs, off ${offCpu.toFixed(0)} µs; telemetry ${(onCpu - offCpu).toFixed(0)} µs = ${(((onCpu - offCpu) / onCpu) * 100).toFixed(1)} % (goal ≤ 10 %)`,
);
console.log(
  `the measured gateway after its rounds, at c=1: ${gatewayAfter.cpuPerRequest!.toFixed(0)} µs CPU per request (idle ${(gatewayIdleAfter * 1000).toFixed(1)} ms CPU/s, was ${(gatewayIdle * 1000).toFixed(1)})`,
);
const recording = telemetryRecordingCost();
const c32Cpu = acrossRounds((r) => r.c32.gateway.cpuPerRequest!);
console.log(
  `telemetry recording alone per request (this process, median of 5 × 50,000): ${recording.aicloud.toFixed(1)} µs (span + histogram series) vs ${recording.sdk.toFixed(1)} µs with the OpenTelemetry SDK's instruments (${(recording.sdk / recording.aicloud).toFixed(1)}×); ${((recording.aicloud / c32Cpu) * 100).toFixed(1)} % of the gateway's ${c32Cpu.toFixed(0)} µs CPU per request at c=32 (goal ≤ 10 %)`,
);
console.log(`load average at end: ${loadAverage()}`);

await gateway.alice.endpoints.delete('bench-stub');
await pooled?.alice.endpoints.delete('bench-stub');
await on.alice.endpoints.delete('bench-stub');
await off.alice.endpoints.delete('bench-stub');
await new Promise((resolve) => setTimeout(resolve, 1500));
const exited = (child: ChildProcess) =>
  child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
for (const child of children) child.kill('SIGTERM');
// The profile is written when the gateway process exits.
await Promise.all([
  exited(gateway.child),
  exited(on.child),
  exited(off.child),
  ...(pooled ? [exited(pooled.child)] : []),
]);
process.exit(0);
