// npm run bench:gateway: direct to a stub upstream vs. through the gateway (keys, rate limits, quota and
// metering on), in one run on loopback; the load comes from a separate thread for both paths. Added latency p50/p99 at concurrency 1, throughput at 32, and the
// cold-start overhead of scaling from zero vs. starting the same server process directly.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
const server = await startServer({
  host: '127.0.0.1',
  port: 0,
  dataDir: join(work, 'data'),
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
const tokens = JSON.parse(readFileSync(join(work, 'data/credentials.json'), 'utf8'));
const alice = createClient({ url: server.url, token: tokens.alice.token });
const modelDir = join(work, 'model');
mkdirSync(modelDir);
writeFileSync(join(modelDir, 'config.json'), '{"runtime":"bench-stub"}');
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
const gatewayHeaders = { authorization: `Bearer ${key}` };

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
direct.kill('SIGTERM');
await alice.endpoints.delete('bench-stub');
await new Promise((resolve) => setTimeout(resolve, 1500));
await server.stop();
process.exit(0);
