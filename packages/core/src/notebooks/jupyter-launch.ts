import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Product } from '@aicloud/contracts';
import type { Executor, WorkloadHandleInfo, WorkloadSpec } from '@aicloud/executors';
import type { Kysely } from 'kysely';
import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { Database } from '../store/schema.ts';
import { waitUntilReady } from './jupyter-client.ts';
import type { NotebookLifecycle } from './notebook-lifecycle.ts';
import { createNamespace, droppedCapabilities, namespaceSupport, setprivPath } from './notebook-netns.ts';
import { notebookPaths } from './notebook-paths.ts';
import type { NotebookRow } from './notebook-record.ts';
import { transitionNotebook } from './notebook-state.ts';

/** Debian's Jupyter (the `python3` on PATH may be another interpreter). */
export const JUPYTER_BINARY = '/usr/bin/jupyter-notebook';
/** The port Jupyter listens on inside its own network namespace (nothing else is there). */
const NAMESPACE_PORT = 8888;
/** Seconds the executor lets a notebook outlive its max lifetime before it kills it itself (a backstop). */
const EXECUTOR_BACKSTOP_SECONDS = 120;

/** How a notebook's Jupyter is run here. */
export interface JupyterOptions {
  dataDir: string;
  /** The Jupyter executable. */
  jupyterBinary: string;
  /** Only how the executor isolates workloads matters to the spec. */
  executor: Pick<Executor, 'isolation'>;
}

/** What launching a notebook needs besides how Jupyter runs. */
export interface JupyterLaunchDeps extends JupyterOptions {
  executor: Executor;
  db: Kysely<Database>;
  audit: AuditService;
  lifecycle: NotebookLifecycle;
  /** How long to wait for Jupyter to answer. */
  startTimeoutMs: number;
}

/** The last lines of a (masked) log file, for error messages. */
function logTail(file: string, lines = 6): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join(' | ') || '(empty)';
  } catch {
    return '(no log)';
  }
}

const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** Whether a port can be bound on 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free loopback port below the ephemeral range (32768+), so that no outgoing connection takes it as
 * its source port between this check and Jupyter binding it.
 */
async function freeLoopbackPort(): Promise<number> {
  for (let tries = 0; tries < 100; tries += 1) {
    const port = randomInt(20_000, 32_768);
    if (await portFree(port)) return port;
  }
  throw new AppError('unavailable', 'no free port on 127.0.0.1 for a notebook');
}

/** The host and port of a `host:port` (`[v6]:port`) address, or undefined for anything else (a socket path). */
export function hostAndPort(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || !(port >= 1 && port <= 65_535)) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}

/** The workload that runs a notebook's Jupyter (sandboxed, in its namespace when egress is blocked). */
export function jupyterSpec(
  options: JupyterOptions,
  row: NotebookRow,
  product: Pick<Product, 'graceSeconds'>,
  token: string,
): WorkloadSpec {
  const paths = notebookPaths(options.dataDir, row.id);
  const host = row.host ?? '127.0.0.1';
  // Sandboxed, Jupyter runs as the notebook's own uid; only an unsandboxed server (not root, or
  // isolation off) runs it as its own user, which may be root.
  const sandboxed = options.executor.isolation === 'sandbox';
  const jupyter = [
    options.jupyterBinary,
    '--no-browser',
    ...(sandboxed ? [] : ['--allow-root']),
    `--ip=${host}`,
    `--port=${row.port}`,
    '--port-retries=0',
    `--NotebookApp.base_url=/notebooks/${row.id}/`,
    `--notebook-dir=${paths.files}`,
  ];
  let argv = jupyter;
  if (row.netns && !sandboxed) {
    const support = namespaceSupport();
    const ip = support.ok ? support.ip : 'ip';
    const setpriv = setprivPath();
    // Without CAP_NET_ADMIN/SYS_ADMIN even root inside cannot add a route or enter another namespace.
    const drop = setpriv
      ? [setpriv, `--bounding-set=${droppedCapabilities.map((cap) => `-${cap}`).join(',')}`]
      : [];
    argv = [ip, 'netns', 'exec', row.netns, ...drop, ...jupyter];
  }
  // Blocked: the prepared namespace whose only link is the proxy's veth; else the host's network.
  const egress = row.netns ? 'blocked' : 'open';
  return {
    id: row.id,
    command: `exec ${argv.map(quote).join(' ')}`,
    // The notebook's files: the root folder above holds the platform's log of it and stays root's.
    workDir: paths.files,
    env: {
      HOME: paths.home,
      JUPYTER_RUNTIME_DIR: paths.runtimeDir,
      JUPYTER_CONFIG_DIR: paths.configDir,
      JUPYTER_DATA_DIR: paths.dataDir,
      IPYTHONDIR: paths.ipythonDir,
      AICLOUD_NOTEBOOK_ID: row.id,
      AICLOUD_TEAM: row.team,
    },
    sandbox: {
      egress,
      ...(row.netns ? { netnsPath: `/run/netns/${row.netns}` } : {}),
      writable: [paths.home, paths.runtimeDir, paths.configDir, paths.dataDir, paths.ipythonDir],
      home: paths.home,
    },
    // Jupyter listens on the address chosen for it (its namespace's, or a loopback port); `start` returns it.
    exposure: { host, ...(row.port ? { port: row.port } : {}), egress },
    gpus: (JSON.parse(row.gpu_indexes) as number[]).map(String),
    maxRuntimeSeconds: row.max_lifetime_s + EXECUTOR_BACKSTOP_SECONDS,
    graceSeconds: product.graceSeconds,
    // Jupyter reads its token from JUPYTER_TOKEN: never on a command line, readable only by the
    // notebook's own uid (and root); as a "secret" it is also masked in Jupyter's log.
    secrets: { JUPYTER_TOKEN: token },
    logFile: paths.logFile,
    outputDir: paths.outputDir,
    checkpointDir: paths.checkpointDir,
  };
}

/** Starts the Jupyter server of a notebook inserted as `starting`; marks it running or failed. */
export async function launchJupyter(
  deps: JupyterLaunchDeps,
  row: NotebookRow,
  product: Product,
): Promise<void> {
  const { db, audit, executor, lifecycle } = deps;
  lifecycle.launching.add(row.id);
  try {
    const paths = notebookPaths(deps.dataDir, row.id);
    for (const dir of [
      paths.files,
      paths.home,
      paths.runtimeDir,
      paths.configDir,
      paths.dataDir,
      paths.ipythonDir,
    ]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    let placed: { host: string; port: number; netns: string | null };
    if (row.egress === 'blocked') {
      let netns: Awaited<ReturnType<typeof createNamespace>>;
      try {
        netns = await createNamespace(row.id);
      } catch (error) {
        await lifecycle.markFailed(row.id, 'start_failed', (error as Error).message);
        throw error;
      }
      placed = { host: netns.innerAddress, port: NAMESPACE_PORT, netns: netns.namespace };
    } else {
      placed = { host: '127.0.0.1', port: await freeLoopbackPort(), netns: null };
    }
    await db
      .updateTable('notebooks')
      .set({ host: placed.host, port: placed.port, netns: placed.netns })
      .where('id', '=', row.id)
      .execute();
    let started: WorkloadHandleInfo;
    try {
      const placedRow = { ...row, ...placed };
      started = await executor.start(jupyterSpec(deps, placedRow, product, lifecycle.tokenOf(placedRow)));
    } catch (error) {
      await lifecycle.markFailed(row.id, 'start_failed', (error as Error).message);
      throw new AppError('unavailable', `notebook ${row.id} could not start: ${(error as Error).message}`);
    }
    const startedAt = new Date(started.startedAt).toISOString();
    // The proxy goes where the executor says Jupyter listens.
    const address = started.address ? hostAndPort(started.address) : undefined;
    await db
      .updateTable('notebooks')
      .set({
        external_id: started.externalId,
        started_at: startedAt,
        metered_until: startedAt,
        last_activity_at: startedAt,
        ...address,
      })
      .where('id', '=', row.id)
      .execute();
    const placedRow = { ...row, ...placed, ...address };
    try {
      if (!address) {
        throw new Error(
          `executor ${executor.name} reports no host:port for it (${started.address ?? 'no address'})`,
        );
      }
      await waitUntilReady(lifecycle.targetOf(placedRow), {
        timeoutMs: deps.startTimeoutMs,
        alive: () => executor.status(row.id)?.state === 'running',
      });
    } catch (error) {
      let message = `Jupyter did not come up: ${(error as Error).message}`;
      const failed = { stop_reason: 'start_failed', stop_message: message };
      // A stop asked for meanwhile left it `stopping`: the failed start is still what is recorded.
      if (!(await transitionNotebook(db, row.id, 'starting', 'stopping', failed))) {
        await db
          .updateTable('notebooks')
          .set(failed)
          .where('id', '=', row.id)
          .where('status', '=', 'stopping')
          .execute();
      }
      await executor.cancel(row.id, 'start_failed');
      await lifecycle.waitForEnd(row.id, (product.graceSeconds + 5) * 1000);
      message = `${message}; last lines of ${paths.logFile}: ${logTail(paths.logFile)}`;
      await lifecycle.markFailed(row.id, 'start_failed', message);
      throw new AppError('unavailable', `notebook ${row.id} failed to start: ${message}`, {
        details: { notebookId: row.id },
      });
    }
    await db.transaction().execute(async (trx) => {
      if (!(await transitionNotebook(trx, row.id, 'starting', 'running'))) return;
      await audit.append(trx, {
        actor: 'system',
        action: 'notebook.started',
        resource: `notebook/${row.id}`,
        team: row.team,
        outcome: 'success',
        details: {
          egress: row.egress,
          netns: placed.netns,
          address: started.address,
          gpus: JSON.parse(row.gpu_indexes) as number[],
        },
      });
    });
  } finally {
    lifecycle.launching.delete(row.id);
  }
}
