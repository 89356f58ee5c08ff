import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, type Platform, type PlatformConfig, startObservability } from '@aicloud/core';
import { sandboxSupport } from '@aicloud/executors';
import { createCedarAuthorizer } from '@aicloud/policy';
import type { FastifyInstance } from 'fastify';
import { listenApiSocket } from './api-socket.ts';
import { buildApp } from './build-app.ts';
import { composePlatform, type ExecutorSettings } from './composition-root.ts';
import { startControllerLoop } from './controller-loop.ts';
import { type GatewayWorkers, startGatewayWorkers } from './gateway-workers.ts';
import { repoRoot, shipped } from './repo-paths.ts';

/** How `aicloud up` starts the platform. */
export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string | undefined;
  seedFile: string | null;
  webRoot: string | null;
  logger?: boolean;
  /** Defaults: the repository's `catalog/` and `policies/`. */
  catalogDir?: string;
  policiesDir?: string;
  /** How often controllers run (default 1 s). */
  tickIntervalMs?: number;
  /** How often running work accrues into the ledger (default 30 s). */
  meterIntervalMs?: number;
  /** A Slurm cluster for products with `executor: slurm`. */
  slurm?: ExecutorSettings['slurm'];
  /** Extra model runtimes by name (command templates). */
  runtimes?: PlatformConfig['runtimes'];
  /** Directories each team may register `path:` model sources from, besides `<dataDir>/imports/<team>`. */
  importRoots?: PlatformConfig['importRoots'];
  /** The cap on the bytes one model registration copies. */
  importMaxBytes?: PlatformConfig['importMaxBytes'];
  /** How local workloads are isolated (default: sandboxed where this machine can). */
  isolation?: ExecutorSettings['isolation'];
  /** Host paths every sandboxed workload also sees read-only (a site runtime's install, shared tools). */
  sandboxReadOnly?: ExecutorSettings['sandboxReadOnly'];
  /** Run several teams' workloads as the server's own user where no sandbox is possible (`--allow-shared-uid`). */
  allowSharedUid?: boolean;
  /** Where webhooks (budget alerts) may go: host names, addresses, CIDR ranges; none when empty. */
  webhookAllowedHosts?: PlatformConfig['webhookAllowedHosts'];
  /** Folder of alert rules (`*.yaml`); null loads none. Default: the shipped `alerts/`. */
  alertsDir?: string | null;
  /** GPU telemetry: seconds between nvidia-smi samples (default 5), minutes under 5 % that make a GPU idle (default 30). */
  gpuTelemetry?: { intervalSeconds?: number; idleMinutes?: number };
  /** OpenTelemetry: `otlpEndpoint` exports metrics and traces over OTLP/HTTP (`aicloud up --otlp-endpoint`). */
  telemetry?: PlatformConfig['telemetry'];
  /**
   * Data-plane worker processes (`aicloud up --gateway-workers N`) on their own port (`gatewayPort`, default
   * 8788): the OpenAI API at line rate, admitted by this process. 0 or absent: this process serves it alone.
   */
  gatewayWorkers?: number;
  gatewayPort?: number;
}

/** A started platform: its URL and how to stop it cleanly. */
export interface RunningServer {
  url: string;
  /** The gateway workers' base URL (`--gateway-workers`), if any: the OpenAI data plane at line rate. */
  gatewayUrl: string | undefined;
  platform: Platform;
  app: FastifyInstance;
  /** What isolates workloads here, in one line for the start-up banner (and what is missing, if anything). */
  isolation: string;
  /** Whether `aicloud down` asked this server to stop its workloads too (`DATA_DIR/run/down`). */
  downRequested(): boolean;
  /**
   * Stops accepting, lets in-flight requests finish, closes the store. Workloads (running jobs, notebooks,
   * model replicas) keep running and are re-attached on the next start, unless `aicloud down` asked for them
   * to be stopped too: then running jobs are cancelled and notebooks and replicas stopped first.
   */
  stop(): Promise<void>;
}

/** Where a running server keeps its pid, and the flag `aicloud down` sets before its SIGTERM. */
export function serverRunFiles(dataDir: string): { pidFile: string; downFlag: string } {
  return { pidFile: join(dataDir, 'run', 'server.pid'), downFlag: join(dataDir, 'run', 'down') };
}

/** Cancels running jobs, stops notebooks and model replicas, and waits (bounded) until they ended. */
async function stopWorkloads(platform: Platform): Promise<void> {
  const db = platform.store.db;
  const jobs = await db.selectFrom('jobs').select('id').where('status', '=', 'running').execute();
  for (const job of jobs) await platform.runner.stop(job.id, 'cancelled').catch(() => {});
  const endpoints = await db
    .selectFrom('endpoint_replicas')
    .select('endpoint_id')
    .where('status', 'in', ['starting', 'ready'])
    .distinct()
    .execute();
  for (const endpoint of endpoints)
    await platform.replicas.stopAll(endpoint.endpoint_id, 'server_down').catch(() => {});
  await platform.notebooks.stopAll('server_down').catch(() => {});
  // Each workload gets its grace period (SIGTERM, then SIGKILL); the executors report the ends.
  const products = (await platform.catalog.list()).map((product) => product.graceSeconds);
  const deadline = Date.now() + (Math.max(30, ...products) + 15) * 1000;
  while (Date.now() < deadline) {
    const left = await db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('status', '=', 'running')
      .executeTakeFirstOrThrow();
    const replicas = await db
      .selectFrom('endpoint_replicas')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('status', 'in', ['starting', 'ready'])
      .executeTakeFirstOrThrow();
    if (Number(left.count) === 0 && Number(replicas.count) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Starts the store, the services and the HTTP server; throws AppError with a clear message on failure. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  let authorizer: ReturnType<typeof createCedarAuthorizer>;
  try {
    authorizer = createCedarAuthorizer({ policiesDir: options.policiesDir ?? shipped.policiesDir });
  } catch (error) {
    throw new AppError(
      'invalid_input',
      `the policy set is invalid, so aicloud will not start: ${(error as Error).message}`,
    );
  }
  const support = sandboxSupport();
  const platform = await composePlatform({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    seedFile: options.seedFile,
    catalogDir: options.catalogDir ?? shipped.catalogDir,
    authorizer,
    meterIntervalMs: options.meterIntervalMs,
    runtimes: options.runtimes,
    slurm: options.slurm,
    importRoots: options.importRoots,
    importMaxBytes: options.importMaxBytes,
    isolation: options.isolation ?? (support.ok ? 'sandbox' : 'none'),
    sandboxReadOnly: options.sandboxReadOnly,
    webhookAllowedHosts: options.webhookAllowedHosts,
    telemetry: options.telemetry,
  });
  let isolation = 'workloads run sandboxed: own uid, mount/pid/ipc/network namespaces, cgroup limits';
  if (options.isolation === 'none' || !support.ok) {
    const why = options.isolation === 'none' ? 'isolation is turned off' : support.ok ? '' : support.reason;
    const teams = await platform.store.db
      .selectFrom('teams')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    if (Number(teams.count) > 1 && !options.allowSharedUid) {
      await platform.close();
      throw new AppError(
        'unavailable',
        `workloads cannot be sandboxed here (${why}), so every team's jobs, notebooks and replicas would run as the server's own user and could read each other's data and the platform's secrets; this store has ${teams.count} teams. Run as root with bubblewrap installed (apt-get install bubblewrap socat nftables), or accept shared privileges explicitly with --allow-shared-uid`,
      );
    }
    isolation = `WARNING: workloads are NOT isolated (${why}): they run as the server's own user and can read the data dir`;
  }
  // GPU telemetry and the alert rules as code: a bad rule file stops the start, naming the file and field.
  let observability: ReturnType<typeof startObservability>;
  try {
    observability = startObservability(platform, {
      alertsDir: options.alertsDir === undefined ? join(repoRoot, 'alerts') : options.alertsDir,
      webhookAllowedHosts: options.webhookAllowedHosts,
      gpuSampleIntervalMs: (options.gpuTelemetry?.intervalSeconds ?? 5) * 1000,
      gpuIdleMinutes: options.gpuTelemetry?.idleMinutes,
      log: (message) => process.stderr.write(`${message}\n`),
    });
  } catch (error) {
    await platform.close();
    throw new AppError(
      'invalid_input',
      `the alert rules are invalid, so aicloud will not start: ${(error as Error).message}`,
    );
  }
  let app: FastifyInstance | undefined;
  try {
    app = await buildApp(platform, {
      webRoot: options.webRoot,
      logger: options.logger ? { level: 'info' } : false,
    });
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app?.close().catch(() => {});
    await observability.stop();
    await platform.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new AppError(
        'unavailable',
        `port ${options.port} on ${options.host} is already in use; stop the other server or pass --port N`,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new AppError('invalid_input', `cannot listen on host '${options.host}': ${code}`);
    }
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const started = app;
  const url = `http://${host}:${port}`;
  platform.setServerUrl(url);
  const socketPath = join(options.dataDir, 'run', 'api.sock');
  const apiSocket = await listenApiSocket(started.server, socketPath).catch((error: Error) => {
    process.stderr.write(`the API socket for sandboxed workloads is unavailable: ${error.message}\n`);
    return undefined;
  });
  platform.setServerSocket(apiSocket ? socketPath : undefined);
  // Re-attach what was running before a restart (jobs, notebooks, replicas), then keep the controllers going.
  await platform.reattach();
  let gatewayWorkers: GatewayWorkers | undefined;
  if (options.gatewayWorkers && options.gatewayWorkers > 0) {
    try {
      gatewayWorkers = await startGatewayWorkers({
        count: options.gatewayWorkers,
        host: options.host,
        port: options.gatewayPort ?? 8788,
        primaryUrl: url,
        gateway: platform.gateway,
        log: (message) => process.stderr.write(`${message}\n`),
      });
    } catch (error) {
      await new Promise<void>((resolve) => (apiSocket ? apiSocket.close(() => resolve()) : resolve()));
      await started.close();
      await observability.stop();
      await platform.close();
      throw error;
    }
  }
  const stopControllers = startControllerLoop(platform, options.tickIntervalMs ?? 1000, (message) =>
    process.stderr.write(`${message}\n`),
  );
  // `aicloud down` finds this process by its pid file; a flag left by an earlier `down` means nothing now.
  const { pidFile, downFlag } = serverRunFiles(options.dataDir);
  mkdirSync(join(options.dataDir, 'run'), { recursive: true });
  rmSync(downFlag, { force: true });
  writeFileSync(pidFile, `${process.pid}\n`);
  const downRequested = () => {
    try {
      return Number(readFileSync(downFlag, 'utf8').trim()) === process.pid;
    } catch {
      return false;
    }
  };
  return {
    url,
    gatewayUrl: gatewayWorkers?.url,
    platform,
    app: started,
    isolation,
    downRequested,
    async stop() {
      const down = downRequested();
      // First: their requests in flight still need this process to settle them.
      await gatewayWorkers?.stop();
      await new Promise<void>((resolve) => (apiSocket ? apiSocket.close(() => resolve()) : resolve()));
      await started.close();
      await stopControllers();
      await observability.stop();
      if (down) await stopWorkloads(platform);
      await platform.close();
      if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(process.pid))
        rmSync(pidFile, { force: true });
      rmSync(downFlag, { force: true });
    },
  };
}
