// npm run bench:gateway: direct to a stub upstream vs. through the gateway (keys, rate limits, quota and
// metering on), in one run on loopback; the load comes from a separate thread for both paths. Added latency p50/p99 at concurrency 1, throughput at 32, and the
// cold-start overhead of scaling from zero vs. starting the same server process directly; and the CPU the
// GenAI telemetry (OpenTelemetry metrics and spans) costs per request: a second server with telemetry off,
// measured in the same run, alternating rounds (process.cpuUsage of this process, which runs both gateways and
// the load thread: the load thread's own cost is the direct run's, subtracted).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createClient } from '@aicloud/client';
import { startServer } from '@aicloud/server';
import { request } from 'undici';

const repoRoot = join(import.meta.dirname, '..');
const stub = join(repoRoot, 'bench/stub-upstream.mjs');
const requests = Number(process.argv[process.argv.indexOf('--requests') + 1] || 2000) || 2000;
const payload = JSON.stringify({ model: 'bench-stub', messages: [{ role: 'user', content: 'hello there' }] });

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function waitHealthy(port: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      const response = await request(`http://127.0.0.1:${port}/health`);
      await response.body.dump();
      if (response.statusCode === 200) return performance.now() - t0;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function load(origin: string, headers: Record<string, string>, concurrency: number, total: number) {
  const worker = new Worker(join(import.meta.dirname, 'load-worker.mjs'), {
    workerData: { origin, headers, concurrency, total, payload },
  });
  return new Promise<{ latencies: number[]; perSecond: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

const work = mkdtempSync(join(tmpdir(), 'aicloud-bench-gateway-'));
const start = (dataDir: string, telemetry: boolean) =>
  startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    telemetry: { enabled: telemetry },
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    importRoots: { 'legal-rag': [work] },
    // The stub runtime lives in bench/: replicas run sandboxed and see only what is mounted for them.
    sandboxReadOnly: [join(repoRoot, 'bench')],
    runtimes: {
      'bench-stub': {
        name: 'bench-stub',
        command: `exec ${process.execPath} ${stub} --socket {socket}`,
        runsHere: true,
        healthPath: '/health',
      },
    },
  });
const modelDir = join(work, 'model');
mkdirSync(modelDir);
writeFileSync(join(modelDir, 'config.json'), '{"runtime":"bench-stub"}');

/** A server with the stub endpoint deployed (scale to zero) and a key without practical limits. */
async function deployed(dataDir: string, telemetry: boolean) {
  const server = await start(dataDir, telemetry);
  const tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  const alice = createClient({ url: server.url, token: tokens.alice.token });
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
      rpm: 10_000_000,
      tpm: 1_000_000_000,
      maxTokensPerPeriod: 1_000_000_000,
      period: '30d',
    })
  ).key;
  return { server, alice, headers: { authorization: `Bearer ${key}` } };
}
const { server, alice, headers: gatewayHeaders } = await deployed(join(work, 'data'), true);

// Cold start through the gateway (scale from zero) vs. starting the same process directly.
const coldT0 = performance.now();
const first = await request(`${server.url}/v1/chat/completions`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...gatewayHeaders },
  body: payload,
});
await first.body.text();
const gatewayCold = performance.now() - coldT0;
const directPort = 20_000 + Math.floor(Math.random() * 20_000);
const directT0 = performance.now();
const direct = spawn(process.execPath, [stub, '--port', String(directPort)], { stdio: 'ignore' });
await waitHealthy(directPort);
const directCold = performance.now() - directT0;

// The baseline: the same stub, on a loopback port, without the gateway (the replica itself only listens on
// its unix socket, which the gateway alone reaches).
const directOrigin = `http://127.0.0.1:${directPort}`;
await load(directOrigin, {}, 1, 200);
await load(server.url, gatewayHeaders, 1, 200);
const directSerial = await load(directOrigin, {}, 1, requests);
const gatewaySerial = await load(server.url, gatewayHeaders, 1, requests);
const directParallel = await load(directOrigin, {}, 32, requests * 2);
const gatewayParallel = await load(server.url, gatewayHeaders, 32, requests * 2);

const row = (name: string, serial: { latencies: number[] }, parallel: { perSecond: number }) =>
  `${name.padEnd(28)} ${percentile(serial.latencies, 50).toFixed(3).padStart(9)} ${percentile(serial.latencies, 99).toFixed(3).padStart(9)} ${parallel.perSecond.toFixed(0).padStart(12)}`;
console.log(
  `bench:gateway — ${requests} requests at concurrency 1, ${requests * 2} at 32, loopback, one run`,
);
console.log(
  `${'path'.padEnd(28)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'req/s @32'.padStart(12)}`,
);
console.log(row('direct to upstream', directSerial, directParallel));
console.log(row('through the gateway', gatewaySerial, gatewayParallel));
const addedP50 = percentile(gatewaySerial.latencies, 50) - percentile(directSerial.latencies, 50);
const addedP99 = percentile(gatewaySerial.latencies, 99) - percentile(directSerial.latencies, 99);
console.log(
  `added latency: p50 ${addedP50.toFixed(3)} ms (goal ≤ 1), p99 ${addedP99.toFixed(3)} ms (goal ≤ 3)`,
);
console.log(
  `governed throughput: ${(gatewayParallel.perSecond / directParallel.perSecond).toFixed(2)}× direct (goal ≥ 0.5×)`,
);
console.log(
  `cold start: first request through the gateway ${gatewayCold.toFixed(0)} ms vs. starting the process directly ${directCold.toFixed(0)} ms (overhead ${(gatewayCold - directCold).toFixed(0)} ms)`,
);

// Telemetry on vs off: the same gateway code, the second server built with telemetry off (no-op meter and
// tracer). CPU of this process per request, alternating rounds; the load thread's share (the direct run's
// CPU per request) is subtracted to leave the gateway's.
const off = await deployed(join(work, 'data-off'), false);
await load(off.server.url, off.headers, 1, 200);
const cpuPerRequest = async (origin: string, headers: Record<string, string>) => {
  const before = process.cpuUsage();
  await load(origin, headers, 1, requests);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / requests;
};
const rounds: { direct: number; on: number; off: number }[] = [];
for (let round = 0; round < 5; round++)
  rounds.push({
    direct: await cpuPerRequest(directOrigin, {}),
    on: await cpuPerRequest(server.url, gatewayHeaders),
    off: await cpuPerRequest(off.server.url, off.headers),
  });
const median = (values: number[]) => percentile(values, 50);
const directCpu = median(rounds.map((r) => r.direct));
const onCpu = median(rounds.map((r) => r.on)) - directCpu;
const offCpu = median(rounds.map((r) => r.off)) - directCpu;
console.log(
  `gateway CPU per request (this process, load thread subtracted, median of ${rounds.length} rounds of ${requests}): telemetry on ${onCpu.toFixed(0)} µs, off ${offCpu.toFixed(0)} µs`,
);
console.log(
  `telemetry: ${(onCpu - offCpu).toFixed(0)} µs per request = ${(((onCpu - offCpu) / onCpu) * 100).toFixed(1)} % of gateway CPU (goal ≤ 10 %)`,
);

// The same recording in isolation (what one request's telemetry does, without HTTP): steadier than the
// difference of two loaded runs on a busy machine.
const recorder = server.platform.gateway.metrics;
const fakeResponse = {
  socket: { localAddress: '127.0.0.1', localPort: 8787 },
  req: { headers: {} },
} as unknown as ServerResponse;
const recordOne = () => {
  const observation = recorder.begin('chat', fakeResponse);
  observation.requestModel('bench-stub');
  observation.upstreamStarted();
  observation.traceparent();
  observation.responseModel('stub');
  observation.end({ tokensIn: 3, tokensOut: 1, streamed: false });
};
for (let n = 0; n < 2000; n++) recordOne();
const isolatedBefore = process.cpuUsage();
const isolatedCount = 50_000;
for (let n = 0; n < isolatedCount; n++) recordOne();
const isolatedUsed = process.cpuUsage(isolatedBefore);
const isolated = (isolatedUsed.user + isolatedUsed.system) / isolatedCount;
console.log(
  `telemetry recording alone (span + 4 histograms, ${isolatedCount} times): ${isolated.toFixed(1)} µs per request = ${((isolated / (offCpu + isolated)) * 100).toFixed(1)} % of gateway CPU with telemetry on (goal ≤ 10 %)`,
);

direct.kill('SIGTERM');
await alice.endpoints.delete('bench-stub');
await off.alice.endpoints.delete('bench-stub');
await new Promise((resolve) => setTimeout(resolve, 1500));
await server.stop();
await off.server.stop();
process.exit(0);
