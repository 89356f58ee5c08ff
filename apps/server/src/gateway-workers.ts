import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppError, type Platform, serveGatewayWorker, type ToPrimary } from '@aicloud/core';
import type { GatewayWorkerConfig } from './gateway-worker.ts';
import { repoRoot } from './repo-paths.ts';

/** Set to true by the CLI's build (apps/cli/scripts/build.mjs) in the compiled server; absent in the sources. */
declare const __AICLOUD_SERVER_BUNDLE__: boolean | undefined;

/**
 * The module a gateway worker runs: the compiled server (apps/cli/dist/server/index.mjs) when this server is
 * the compiled one, so a worker starts without compiling TypeScript; else the sources, through tsx.
 */
function workerModule(): string {
  return typeof __AICLOUD_SERVER_BUNDLE__ !== 'undefined' && __AICLOUD_SERVER_BUNDLE__
    ? pathToFileURL(join(repoRoot, 'apps/cli/dist/server/index.mjs')).href
    : new URL('./gateway-worker.ts', import.meta.url).href;
}

/** The data-plane workers of one server (`aicloud up --gateway-workers N`). */
export interface GatewayWorkers {
  /** Where they listen: the data plane's base URL (`…/v1`). */
  url: string;
  count: number;
  /** Stops them; each finishes its requests in flight first (30 s at most). */
  stop(): Promise<void>;
}

/**
 * Forks `count` gateway workers that share one data-plane port (node:cluster: the primary accepts the
 * connections and hands them round-robin). The primary keeps its own port for everything else, the control
 * plane on its own event loop; each worker is admitted by this process's gateway (serveGatewayWorker), so
 * keys, limits, quotas, budgets and metering are the primary's alone. A worker that exits is replaced.
 * Decision: docs/decisions/2026-12-05-gateway-line-rate.md.
 */
export async function startGatewayWorkers(options: {
  count: number;
  host: string;
  port: number;
  primaryUrl: string;
  gateway: Platform['gateway'];
  log(message: string): void;
}): Promise<GatewayWorkers> {
  cluster.setupPrimary({
    exec: join(repoRoot, 'apps/server/bin/gateway-worker.mjs'),
    args: [],
    // Not the primary's own flags (a test runner's, an inspector's).
    execArgv: [],
  });
  const workers = new Set<Worker>();
  let stopping = false;
  // Port 0: a free one, chosen once, so that a worker started later (one replaced) listens on it too.
  const port = options.port === 0 ? await freePort(options.host) : options.port;

  function fork(): Promise<void> {
    // Workers listening on one host and port share one handle, which the primary holds while any listens.
    const config: GatewayWorkerConfig = {
      host: options.host,
      port,
      primaryUrl: options.primaryUrl,
    };
    const worker = cluster.fork({
      AICLOUD_GATEWAY_WORKER: JSON.stringify(config),
      // The worker's program, which its entry loads: the build this server runs, else the sources (tsx).
      AICLOUD_SERVER_MODULE: workerModule(),
    });
    workers.add(worker);
    let failure: string | undefined;
    const link = serveGatewayWorker(options.gateway, {
      send: (batch) => {
        if (worker.isConnected()) worker.send(batch);
      },
      onMessage: (listener) =>
        worker.on('message', (message: unknown) => {
          if (Array.isArray(message)) listener(message as ToPrimary[]);
          else failure = (message as { failed?: string } | null)?.failed;
        }),
    });
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      worker.once('listening', () => {
        listening = true;
        resolve();
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        // Its replicas and reservations come back at once.
        link.exited();
        const why = failure ?? (signal ? `signal ${signal}` : `exit code ${code}`);
        if (!listening) {
          reject(new Error(why));
          return;
        }
        if (stopping) return;
        options.log(`gateway worker ${worker.process.pid} ended (${why}); starting another`);
        setTimeout(() => {
          if (!stopping)
            fork().catch((error: Error) => options.log(`gateway worker failed: ${error.message}`));
        }, 1000).unref();
      });
    });
  }

  const stop = async () => {
    stopping = true;
    await Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
            setTimeout(() => {
              worker.process.kill('SIGKILL');
              resolve();
            }, 35_000).unref();
          }),
      ),
    );
  };

  try {
    await Promise.all(Array.from({ length: options.count }, () => fork()));
  } catch (error) {
    await stop();
    const message = (error as Error).message;
    throw new AppError(
      /EADDRINUSE/.test(message) ? 'unavailable' : 'internal',
      /EADDRINUSE/.test(message)
        ? `the gateway port ${options.port} on ${options.host} is already in use; stop the other server or pass --gateway-port N`
        : `the gateway workers did not start: ${message}`,
    );
  }
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, count: options.count, stop };
}

/** A port free on `host` now. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0 }, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
