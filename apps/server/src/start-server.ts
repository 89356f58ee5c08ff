import { join } from 'node:path';
import { AppError, createPlatform, type Platform, type PlatformConfig } from '@aicloud/core';
import { sandboxSupport } from '@aicloud/executors';
import { createCedarAuthorizer } from '@aicloud/policy';
import type { FastifyInstance } from 'fastify';
import { listenApiSocket } from './api-socket.ts';
import { buildApp } from './build-app.ts';
import { startControllerLoop } from './controller-loop.ts';
import { shipped } from './repo-paths.ts';

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
  /** A Slurm cluster for jobs with `executor: slurm`. */
  slurm?: PlatformConfig['slurm'];
  /** Extra model runtimes by name (command templates). */
  runtimes?: PlatformConfig['runtimes'];
  /** Directories each team may register `path:` model sources from, besides `<dataDir>/imports/<team>`. */
  importRoots?: PlatformConfig['importRoots'];
  /** The cap on the bytes one model registration copies. */
  importMaxBytes?: PlatformConfig['importMaxBytes'];
  /** How local workloads are isolated (default: sandboxed where this machine can). */
  isolation?: PlatformConfig['isolation'];
  /** Run several teams' workloads as the server's own user where no sandbox is possible (`--allow-shared-uid`). */
  allowSharedUid?: boolean;
  /** Where webhooks (budget alerts) may go: host names, addresses, CIDR ranges; none when empty. */
  webhookAllowedHosts?: PlatformConfig['webhookAllowedHosts'];
}

/** A started platform: its URL and how to stop it cleanly. */
export interface RunningServer {
  url: string;
  platform: Platform;
  app: FastifyInstance;
  /** What isolates workloads here, in one line for the start-up banner (and what is missing, if anything). */
  isolation: string;
  /** Stops accepting, lets in-flight requests finish, closes the store. */
  stop(): Promise<void>;
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
  const platform = await createPlatform({
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
    webhookAllowedHosts: options.webhookAllowedHosts,
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
  let app: FastifyInstance | undefined;
  try {
    app = await buildApp(platform, {
      webRoot: options.webRoot,
      logger: options.logger ? { level: 'info' } : false,
    });
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app?.close().catch(() => {});
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
  // Re-attach what was running before a restart, then keep the controllers going.
  await platform.runner.recover();
  await platform.replicas.recover();
  const stopControllers = startControllerLoop(platform, options.tickIntervalMs ?? 1000, (message) =>
    process.stderr.write(`${message}\n`),
  );
  return {
    url,
    platform,
    app: started,
    isolation,
    async stop() {
      await new Promise<void>((resolve) => (apiSocket ? apiSocket.close(() => resolve()) : resolve()));
      await started.close();
      await stopControllers();
      await platform.close();
    },
  };
}
