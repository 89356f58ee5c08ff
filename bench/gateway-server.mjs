// The platform for bench:gateway, in its own process (the process whose CPU is measured): the server that
// `aicloud up` runs (apps/cli/dist/server.mjs, `npm run build:cli`), on 127.0.0.1, with the bench-stub
// runtime declared (`aicloud up` has no flag for extra runtimes). Prints one JSON line { url, pid } once up;
// stops on SIGTERM. Usage: node bench/gateway-server.mjs DATA_DIR IMPORT_ROOT [--telemetry-off]
// [--gateway-workers N] (then the line has gatewayUrl and the workers' pids too).
import cluster from 'node:cluster';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..');
const { startServer } = await import(join(repoRoot, 'apps/cli/dist/server.mjs'));
const [dataDir, importRoot] = process.argv.slice(2);
const stub = join(repoRoot, 'bench/stub-upstream.mjs');
const workersAt = process.argv.indexOf('--gateway-workers');
const gatewayWorkers = workersAt > 0 ? Number(process.argv[workersAt + 1]) : 0;
const server = await startServer({
  host: '127.0.0.1',
  port: 0,
  dataDir,
  telemetry: { enabled: !process.argv.includes('--telemetry-off') },
  gatewayWorkers,
  gatewayPort: 0,
  seedFile: join(repoRoot, 'seed/demo.yaml'),
  webRoot: null,
  importRoots: { 'legal-rag': [importRoot] },
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
const workerPids = Object.values(cluster.workers ?? {}).map((worker) => worker?.process.pid);
process.stdout.write(
  `${JSON.stringify({ url: server.url, pid: process.pid, gatewayUrl: server.gatewayUrl, workerPids })}\n`,
);
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
