import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  CreateNotebookRequest,
  type Notebook,
  type NotebookLoginUrl,
  NotebookQuery,
  type Product,
} from '@aicloud/contracts';
import type { Executor, ExecutorEvent, WorkloadSpec, WorkloadStatus } from '@aicloud/executors';
import type { Transaction } from 'kysely';
import { readBudget } from '../admission/team-usage.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { appendUsage } from '../billing/ledger.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { formatDuration, parseDuration } from '../duration.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import { type Actor, canSeeTeam, teamsToList } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import { formatUsd, toMicros } from '../money.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { heldLocalGpus } from '../workloads/gpu-ledger.ts';
import { type JupyterTarget, pollActivity, waitUntilReady } from './jupyter-client.ts';
import {
  createNamespace,
  droppedCapabilities,
  namespaceSupport,
  netnsNames,
  removeNamespace,
  setprivPath,
} from './notebook-netns.ts';
import { notebookPaths } from './notebook-paths.ts';
import { decide, notebookAdmissionRequest, notebookStopRequest } from './notebook-policy.ts';
import {
  ACTIVE_NOTEBOOK_STATES,
  deadlinesOf,
  type NotebookRow,
  toNotebook,
  warningMessage,
} from './notebook-record.ts';
import { createNotebookSessions, NOTEBOOK_COOKIE, SESSION_TTL_MS } from './notebook-sessions.ts';

/** Debian's Jupyter (the `python3` on PATH may be another interpreter). */
export const JUPYTER_BINARY = '/usr/bin/jupyter-notebook';
/** The port Jupyter listens on inside its own network namespace (nothing else is there). */
const NAMESPACE_PORT = 8888;
/** Seconds the executor lets a notebook outlive its max lifetime before it kills it itself (a backstop). */
const EXECUTOR_BACKSTOP_SECONDS = 120;

/** What the notebook service needs. */
export interface NotebookServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  catalog: CatalogService;
  identity: IdentityService;
  authorizer: Authorizer;
  /** Runs the Jupyter servers (the local executor); owned by the service: `close()` shuts it down. */
  executor: Executor;
  dataDir: string;
  /** Seals the Jupyter tokens at rest. */
  box: SecretBox;
  /** The server's own URL, for login links. */
  serverUrl: () => string;
  /** How often running notebooks accrue into the ledger (default 30 s). */
  meterIntervalMs?: number;
  /** How long `create` waits for Jupyter to answer (default 60 s). */
  startTimeoutMs?: number;
  /** The Jupyter executable (default /usr/bin/jupyter-notebook). */
  jupyterBinary?: string;
  /** Whether network namespaces can be made here (default: root, Linux and `ip` present). */
  namespaceSupport?: typeof namespaceSupport;
}

/** Where the proxy sends an authorized request. */
export interface NotebookProxyTarget {
  notebookId: string;
  host: string;
  port: number;
  /** Jupyter's token: the proxy sends it as `Authorization: token …`; it never reaches the browser. */
  token: string;
  userName: string;
}

/** Credentials a proxied request came with. */
export interface NotebookCredentials {
  /** Value of the platform's notebook cookie. */
  cookie?: string | null | undefined;
  /** An API token from `Authorization: Bearer …`. */
  bearer?: string | null | undefined;
}

/** Cost-capped Jupyter notebooks: start, list, stop, snooze, the idle/lifetime controller and the proxy's checks. */
export interface NotebookService {
  create(actor: Actor, request: CreateNotebookRequest): Promise<Notebook>;
  list(actor: Actor, query?: Partial<NotebookQuery>): Promise<Notebook[]>;
  get(actor: Actor, id: string): Promise<Notebook>;
  /** Stops the Jupyter server (files are kept); resolves once it ended or after a bounded wait. */
  stop(actor: Actor, id: string): Promise<Notebook>;
  /** Moves the idle deadline one idle timeout further, never past the max lifetime. */
  snooze(actor: Actor, id: string): Promise<Notebook>;
  /** A one-time, short-lived URL that signs a browser in to the notebook (team members only). */
  loginUrl(actor: Actor, id: string): Promise<NotebookLoginUrl>;
  /** Trades a login ticket for the session cookie of one notebook; throws `unauthenticated`. */
  redeemTicket(
    id: string,
    ticket: string,
  ): Promise<{ name: string; value: string; path: string; maxAgeSeconds: number }>;
  /** Checks a proxied request's credentials and answers where Jupyter is; throws 401/404/503 errors. */
  authorizeProxy(id: string, credentials: NotebookCredentials): Promise<NotebookProxyTarget>;
  /** Records activity seen by the proxy (HTTP requests, websocket frames). */
  touch(id: string): void;
  /** One controller pass: reattach once, poll Jupyter, warn, stop idle or expired notebooks, meter. */
  tick(): Promise<void>;
  /** Stops every active notebook (tests and maintenance); waits until they ended. */
  stopAll(reason?: string): Promise<void>;
  /** Resolves when the service has processed every executor event up to now (for tests). */
  idle(): Promise<void>;
  /** Stops watching; Jupyter servers keep running and are re-attached on the next start. */
  close(): Promise<void>;
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

/** Creates the notebook service. */
export function createNotebookService(deps: NotebookServiceDeps): NotebookService {
  const { store, audit, clock, catalog, identity, executor, dataDir, box } = deps;
  const db = store.db;
  const meterInterval = deps.meterIntervalMs ?? 30_000;
  const startTimeout = deps.startTimeoutMs ?? 60_000;
  const jupyterBinary = deps.jupyterBinary ?? JUPYTER_BINARY;
  const sessions = createNotebookSessions(join(dataDir, 'notebooks', 'session.key'));
  /** Latest activity the proxy saw, per notebook. */
  const proxyActivity = new Map<string, number>();
  /** When Jupyter was last polled, per notebook. */
  const lastPolled = new Map<string, number>();
  /** Notebooks whose start this instance is driving (the controller leaves them alone). */
  const launching = new Set<string>();
  /** Callers waiting for a notebook to end. */
  const endWaiters = new Map<string, Set<() => void>>();
  /**
   * Where a running notebook's Jupyter is, briefly cached: `jupyter:<notebook>` → its address and team. Who
   * may use it (the session's token, team membership) is checked on every request, never cached.
   */
  const accessCache = new Map<
    string,
    { target: Omit<NotebookProxyTarget, 'userName'>; team: string; until: number }
  >();
  const tokens = new Map<string, string>();
  let recovery: Promise<void> | null = null;
  let ticking: Promise<void> | null = null;
  let closed = false;

  let queue: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work).catch((error: unknown) => {
      process.stderr.write(`notebooks: ${(error as Error).stack ?? String(error)}\n`);
    });
    return queue;
  };
  const unsubscribe = executor.onEvent((event: ExecutorEvent) => {
    if (event.type !== 'ended' || !event.id.startsWith('nb_')) return;
    void enqueue(() => finish(event.id, event.status));
  });

  const tokenOf = (row: NotebookRow): string => {
    let token = tokens.get(row.id);
    if (!token) {
      token = box.open(row.token_sealed, `notebook:${row.id}`);
      tokens.set(row.id, token);
    }
    return token;
  };

  const targetOf = (row: NotebookRow): JupyterTarget => ({
    host: row.host ?? '127.0.0.1',
    port: row.port ?? 0,
    token: tokenOf(row),
    basePath: `/notebooks/${row.id}/`,
  });

  async function load(id: string): Promise<NotebookRow | undefined> {
    return db.selectFrom('notebooks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async function visible(actor: Actor, id: string): Promise<NotebookRow> {
    const row = await load(id);
    if (!row || !canSeeTeam(actor.principal, row.team)) throw notFound('notebook', id);
    return row;
  }

  function specOf(row: NotebookRow, product: Pick<Product, 'graceSeconds'>): WorkloadSpec {
    const paths = notebookPaths(dataDir, row.id);
    const token = tokenOf(row);
    const host = row.host ?? '127.0.0.1';
    // Sandboxed, Jupyter runs as the notebook's own uid; only an unsandboxed server (not root, or
    // isolation off) runs it as its own user, which may be root.
    const sandboxed = executor.isolation === 'sandbox';
    const jupyter = [
      jupyterBinary,
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
        // Blocked: the prepared namespace whose only link is the proxy's veth; else the host's network.
        egress: row.netns ? 'blocked' : 'open',
        ...(row.netns ? { netnsPath: `/run/netns/${row.netns}` } : {}),
        writable: [paths.home, paths.runtimeDir, paths.configDir, paths.dataDir, paths.ipythonDir],
        home: paths.home,
      },
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

  /** Accrues a notebook's running time from where metering stopped up to `until`, in the caller's transaction. */
  async function meter(trx: Transaction<Database>, row: NotebookRow, until: number): Promise<number> {
    const from = Date.parse(row.metered_until ?? row.started_at ?? row.created_at);
    if (until <= from) return row.cost_micros;
    const units = Math.max(row.gpus, 1);
    const cost = await appendUsage(trx, clock, [
      {
        team: row.team,
        user: row.owner,
        project: row.name,
        category: 'notebooks',
        resource: row.gpus > 0 ? `gpu:${row.gpu_type}` : 'cpu',
        quantity: ((until - from) / 3_600_000) * units,
        unit: row.gpus > 0 ? 'gpu_hour' : 'instance_hour',
        rateMicros: row.rate_micros,
        sourceKind: 'notebook',
        sourceId: row.id,
        windowStart: new Date(from).toISOString(),
        windowEnd: new Date(until).toISOString(),
      },
    ]);
    const total = row.cost_micros + cost;
    await trx
      .updateTable('notebooks')
      .set({ cost_micros: total, metered_until: new Date(until).toISOString() })
      .where('id', '=', row.id)
      .execute();
    return total;
  }

  function settle(id: string) {
    proxyActivity.delete(id);
    lastPolled.delete(id);
    tokens.delete(id);
    for (const key of accessCache.keys()) if (key.endsWith(`:${id}`)) accessCache.delete(key);
    const waiters = endWaiters.get(id);
    endWaiters.delete(id);
    for (const resolve of waiters ?? []) resolve();
  }

  /** Records the end of a notebook's Jupyter: metered, stopped (asked) or failed (not asked), namespace removed. */
  async function finish(
    id: string,
    status: Pick<WorkloadStatus, 'state' | 'reason' | 'exitCode' | 'endedAt'>,
    failure?: { reason: string; message: string },
  ): Promise<void> {
    const ended = await db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('notebooks')
        .selectAll()
        .where('id', '=', id)
        .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
        .executeTakeFirst();
      if (!row) return null;
      const endedAt = status.endedAt ?? clock.now();
      const cost = row.external_id ? await meter(trx, row, endedAt) : row.cost_micros;
      let next: 'stopped' | 'failed' = 'stopped';
      let reason = row.stop_reason;
      let message = row.stop_message;
      if (failure) {
        next = 'failed';
        reason = failure.reason;
        message = failure.message;
      } else if (row.stop_reason === 'start_failed') {
        next = 'failed';
      } else if (row.status !== 'stopping') {
        if (status.state === 'timed_out') {
          reason = 'max_lifetime';
          message = `stopped by the executor at the max lifetime of ${formatDuration(row.max_lifetime_s)}`;
        } else {
          next = 'failed';
          reason = status.state === 'lost' ? 'lost' : 'exited';
          message = `Jupyter ended by itself (${status.reason ?? `exit code ${status.exitCode}`}); files are kept`;
        }
      }
      await trx
        .updateTable('notebooks')
        .set({
          status: next,
          stop_reason: reason,
          stop_message: message,
          stopped_at: new Date(endedAt).toISOString(),
          warned_at: null,
          warning: null,
        })
        .where('id', '=', id)
        .execute();
      await audit.append(trx, {
        actor: 'system',
        action: next === 'stopped' ? 'notebook.stopped' : 'notebook.failed',
        resource: `notebook/${id}`,
        team: row.team,
        outcome: next === 'stopped' ? 'success' : 'failure',
        details: { reason, message, cost: cost / 1_000_000 },
      });
      return row;
    });
    if (ended?.netns) await removeNamespace(netnsNames(id)).catch(() => undefined);
    settle(id);
  }

  /** Marks a notebook `stopping` (audited) and asks the executor to stop it; finishes it when nothing runs. */
  async function requestStop(
    id: string,
    reason: 'user' | 'idle' | 'max_lifetime' | 'shutdown',
    by: { actor: string; requestId: string | null; action: string; details?: Record<string, unknown> },
  ): Promise<boolean> {
    // After a restart the executor knows a notebook only once it is reattached.
    await ensureRecovered();
    const row = await db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('notebooks')
        .selectAll()
        .where('id', '=', id)
        .where('status', 'in', ['starting', 'running'])
        .executeTakeFirst();
      if (!current) return null;
      const message =
        reason === 'user'
          ? `stopped by ${by.actor}; files are kept`
          : reason === 'idle'
            ? `stopped after ${formatDuration(current.idle_timeout_s)} without activity; files are kept`
            : reason === 'max_lifetime'
              ? `stopped at its max lifetime of ${formatDuration(current.max_lifetime_s)}; files are kept`
              : 'stopped by the platform; files are kept';
      await trx
        .updateTable('notebooks')
        .set({ status: 'stopping', stop_reason: reason, stop_message: message })
        .where('id', '=', id)
        .execute();
      await audit.append(trx, {
        actor: by.actor,
        action: by.action,
        resource: `notebook/${id}`,
        team: current.team,
        outcome: 'success',
        requestId: by.requestId,
        details: { reason, ...by.details },
      });
      return current;
    });
    if (!row) return false;
    const status = executor.status(id);
    if (status && status.state === 'running') {
      await executor.cancel(id, `notebook_${reason}`);
    } else {
      // Nothing of it runs under this executor (never started, or gone): the stop is immediate.
      await enqueue(() =>
        finish(id, {
          state: status?.state ?? 'cancelled',
          reason: status?.reason ?? null,
          exitCode: status?.exitCode ?? null,
          endedAt: status?.endedAt ?? clock.now(),
        }),
      );
    }
    return true;
  }

  async function waitForEnd(id: string, timeoutMs: number): Promise<void> {
    const row = await load(id);
    if (!row || !ACTIVE_NOTEBOOK_STATES.includes(row.status as never)) return;
    await new Promise<void>((resolve) => {
      let set = endWaiters.get(id);
      if (!set) {
        set = new Set();
        endWaiters.set(id, set);
      }
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      set.add(done);
    });
  }

  async function markFailed(id: string, reason: string, message: string) {
    await enqueue(() =>
      finish(id, { state: 'failed', reason, exitCode: null, endedAt: clock.now() }, { reason, message }),
    );
  }

  /** Starts the Jupyter server of a notebook inserted as `starting`; marks it running or failed. */
  async function launch(row: NotebookRow, product: Product): Promise<void> {
    launching.add(row.id);
    try {
      const paths = notebookPaths(dataDir, row.id);
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
          await markFailed(row.id, 'start_failed', (error as Error).message);
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
      const placedRow = { ...row, ...placed };
      let started: { externalId: string; startedAt: number };
      try {
        started = await executor.start(specOf(placedRow, product));
      } catch (error) {
        await markFailed(row.id, 'start_failed', (error as Error).message);
        throw new AppError('unavailable', `notebook ${row.id} could not start: ${(error as Error).message}`);
      }
      const startedAt = new Date(started.startedAt).toISOString();
      await db
        .updateTable('notebooks')
        .set({
          external_id: started.externalId,
          started_at: startedAt,
          metered_until: startedAt,
          last_activity_at: startedAt,
        })
        .where('id', '=', row.id)
        .execute();
      try {
        await waitUntilReady(targetOf(placedRow), {
          timeoutMs: startTimeout,
          alive: () => executor.status(row.id)?.state === 'running',
        });
      } catch (error) {
        let message = `Jupyter did not come up: ${(error as Error).message}`;
        await db
          .updateTable('notebooks')
          .set({ status: 'stopping', stop_reason: 'start_failed', stop_message: message })
          .where('id', '=', row.id)
          .where('status', 'in', ['starting', 'stopping'])
          .execute();
        await executor.cancel(row.id, 'start_failed');
        await waitForEnd(row.id, (product.graceSeconds + 5) * 1000);
        message = `${message}; last lines of ${paths.logFile}: ${logTail(paths.logFile)}`;
        await markFailed(row.id, 'start_failed', message);
        throw new AppError('unavailable', `notebook ${row.id} failed to start: ${message}`, {
          details: { notebookId: row.id },
        });
      }
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('notebooks')
          .set({ status: 'running' })
          .where('id', '=', row.id)
          .where('status', '=', 'starting')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return;
        await audit.append(trx, {
          actor: 'system',
          action: 'notebook.started',
          resource: `notebook/${row.id}`,
          team: row.team,
          outcome: 'success',
          details: {
            egress: row.egress,
            netns: placed.netns,
            address: `${placed.host}:${placed.port}`,
            gpus: JSON.parse(row.gpu_indexes) as number[],
          },
        });
      });
    } finally {
      launching.delete(row.id);
    }
  }

  async function recover(): Promise<void> {
    const rows = await db
      .selectFrom('notebooks')
      .selectAll()
      .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
      .execute();
    for (const row of rows) {
      if (launching.has(row.id)) continue;
      if (!row.external_id) {
        await markFailed(row.id, 'start_interrupted', 'the server stopped while the notebook was starting');
        continue;
      }
      let status: WorkloadStatus;
      try {
        const product = await catalog.get(row.product).catch(() => ({ graceSeconds: 30 }));
        status = await executor.reattach({
          id: row.id,
          externalId: row.external_id,
          startedAt: Date.parse(row.started_at ?? row.created_at),
          spec: specOf(row, product),
        });
      } catch (error) {
        await markFailed(row.id, 'lost', `could not reattach: ${(error as Error).message}`);
        continue;
      }
      if (status.state !== 'running') {
        await enqueue(() => finish(row.id, status));
      } else if (row.status === 'stopping') {
        await executor.cancel(row.id, `notebook_${row.stop_reason ?? 'user'}`);
      }
    }
  }

  async function pollAndAct(row: NotebookRow, now: number): Promise<void> {
    let activity = Math.max(
      proxyActivity.get(row.id) ?? 0,
      Date.parse(row.last_activity_at ?? row.created_at),
    );
    // Poll Jupyter at least every 30 s (a tenth of the idle timeout for short ones), and before any stop.
    const pollEvery = Math.min(30_000, Math.max(1000, (row.idle_timeout_s * 1000) / 10));
    const poll = async () => {
      lastPolled.set(row.id, clock.now());
      try {
        const seen = await pollActivity(targetOf(row));
        if (seen.busy) activity = Math.max(activity, clock.now());
        if (seen.lastActivity !== null)
          activity = Math.max(activity, Math.min(seen.lastActivity, clock.now()));
      } catch {
        // An unresponsive Jupyter shows no activity; its process ending is reported by the executor.
      }
    };
    if (now - (lastPolled.get(row.id) ?? 0) >= pollEvery) await poll();
    let deadlines = deadlinesOf(row, activity);
    if (now >= deadlines.stopAt && now - (lastPolled.get(row.id) ?? 0) > 500) {
      await poll();
      deadlines = deadlinesOf(row, activity);
    }
    const activityIso = new Date(activity).toISOString();
    if (row.last_activity_at === null || activity > Date.parse(row.last_activity_at)) {
      await db
        .updateTable('notebooks')
        .set({ last_activity_at: activityIso })
        .where('id', '=', row.id)
        .where('status', '=', 'running')
        .execute();
    }
    if (now >= deadlines.stopAt) {
      await requestStop(row.id, deadlines.kind, {
        actor: 'system',
        requestId: null,
        action: deadlines.kind === 'idle' ? 'notebook.idle_stop' : 'notebook.lifetime_stop',
        details: {
          lastActivityAt: activityIso,
          idleTimeoutSeconds: row.idle_timeout_s,
          maxLifetimeSeconds: row.max_lifetime_s,
        },
      });
      return;
    }
    const inWindow = now >= deadlines.warnAt;
    const warnedFor = row.warned_at ? row.warning : null;
    if (inWindow && warnedFor !== deadlines.kind) {
      const stopsAt = new Date(deadlines.stopAt).toISOString();
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('notebooks')
          .set({ warned_at: isoNow(clock), warning: deadlines.kind })
          .where('id', '=', row.id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return;
        await audit.append(trx, {
          actor: 'system',
          action: deadlines.kind === 'idle' ? 'notebook.idle_warning' : 'notebook.lifetime_warning',
          resource: `notebook/${row.id}`,
          team: row.team,
          outcome: 'warn',
          details: {
            stopsAt,
            lastActivityAt: activityIso,
            message: warningMessage(row, deadlines.kind, deadlines.stopAt),
          },
        });
      });
    } else if (!inWindow && warnedFor) {
      // Activity (or a snooze) moved the stop out of the warning window.
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('notebooks')
          .set({ warned_at: null, warning: null })
          .where('id', '=', row.id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return;
        await audit.append(trx, {
          actor: 'system',
          action: 'notebook.warning_cleared',
          resource: `notebook/${row.id}`,
          team: row.team,
          outcome: 'success',
          details: { lastActivityAt: activityIso, stopsAt: new Date(deadlines.stopAt).toISOString() },
        });
      });
    }
  }

  function ensureRecovered(): Promise<void> {
    recovery ??= recover().catch((error: unknown) => {
      process.stderr.write(`notebooks: reattach failed: ${(error as Error).stack ?? String(error)}\n`);
    });
    return recovery;
  }

  async function tickOnce(): Promise<void> {
    await ensureRecovered();
    const rows = await db
      .selectFrom('notebooks')
      .selectAll()
      .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
      .execute();
    const now = clock.now();
    await Promise.all(
      rows
        .filter((row) => row.status === 'running' && !launching.has(row.id))
        .map((row) =>
          pollAndAct(row, now).catch((error: unknown) => {
            process.stderr.write(`notebooks: ${row.id}: ${(error as Error).stack ?? String(error)}\n`);
          }),
        ),
    );
    for (const row of rows) {
      if (launching.has(row.id)) continue;
      const status = executor.status(row.id);
      if (row.status === 'starting' && row.external_id && status?.state === 'running') {
        // Reattached while starting: running once Jupyter answers.
        try {
          await pollActivity(targetOf(row), 1000);
          await db.transaction().execute(async (trx) => {
            const updated = await trx
              .updateTable('notebooks')
              .set({ status: 'running' })
              .where('id', '=', row.id)
              .where('status', '=', 'starting')
              .executeTakeFirst();
            if (Number(updated.numUpdatedRows) === 0) return;
            await audit.append(trx, {
              actor: 'system',
              action: 'notebook.started',
              resource: `notebook/${row.id}`,
              team: row.team,
              outcome: 'success',
              details: { reattached: true },
            });
          });
        } catch {
          if (now - Date.parse(row.started_at ?? row.created_at) > startTimeout) {
            await requestStop(row.id, 'shutdown', {
              actor: 'system',
              requestId: null,
              action: 'notebook.start_timeout',
            });
          }
        }
      }
      if (row.status === 'stopping' && status?.state !== 'running') {
        await enqueue(() =>
          finish(row.id, {
            state: status?.state ?? 'cancelled',
            reason: status?.reason ?? null,
            exitCode: status?.exitCode ?? null,
            endedAt: status?.endedAt ?? now,
          }),
        );
      }
    }
    // Meter running time at least every meterInterval.
    const due = new Date(clock.now() - meterInterval).toISOString();
    const unmetered = await db
      .selectFrom('notebooks')
      .select('id')
      .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
      .where('external_id', 'is not', null)
      .where('metered_until', '<=', due)
      .execute();
    for (const { id } of unmetered) {
      const until = clock.now();
      await db.transaction().execute(async (trx) => {
        const current = await trx
          .selectFrom('notebooks')
          .selectAll()
          .where('id', '=', id)
          .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
          .executeTakeFirst();
        if (current) await meter(trx, current, until);
      });
    }
  }

  /** Whether an API token is still the user's, unrevoked and unexpired (one lookup by primary key). */
  async function tokenValid(userId: string, tokenId: string): Promise<boolean> {
    const token = await db
      .selectFrom('api_tokens')
      .select(['user_id', 'revoked_at', 'expires_at', 'scope'])
      .where('id', '=', tokenId)
      .executeTakeFirst();
    return (
      token !== undefined &&
      token.user_id === userId &&
      token.revoked_at === null &&
      token.scope === null &&
      (token.expires_at === null || token.expires_at > isoNow(clock))
    );
  }

  async function memberOf(userId: string, team: string): Promise<string | null> {
    const row = await db
      .selectFrom('memberships')
      .innerJoin('teams', 'teams.id', 'memberships.team_id')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('users.name')
      .where('memberships.user_id', '=', userId)
      .where('teams.name', '=', team)
      .executeTakeFirst();
    return row?.name ?? null;
  }

  const service: NotebookService = {
    async create(actor, request) {
      if (closed) throw new AppError('unavailable', 'the platform is shutting down');
      const parsed = CreateNotebookRequest.parse(request);
      const product = await catalog.requested(parsed.product);
      if (product.kind !== 'notebook') {
        throw new AppError(
          'invalid_input',
          `product ${product.name} is a ${product.kind} product, not a notebook; see aicloud catalog list`,
          { issues: [{ path: ['product'], message: 'not a notebook product' }] },
        );
      }
      const teams = [...actor.principal.teams.keys()];
      const team = parsed.team ?? (teams.length === 1 ? teams[0] : undefined);
      if (!team) {
        throw new AppError(
          'invalid_input',
          teams.length === 0
            ? 'you are not in any team; ask a platform-admin to add you'
            : `you are in several teams (${teams.join(', ')}): pass --team`,
          { issues: [{ path: ['team'], message: 'required' }] },
        );
      }
      if (!canSeeTeam(actor.principal, team)) throw notFound('team', team);
      const gpus = parsed.gpus ?? (product.gpu.min > 0 ? product.gpu.min : Math.min(product.gpu.max, 1));
      if (gpus < product.gpu.min || gpus > product.gpu.max) {
        throw new AppError(
          'invalid_input',
          `product ${product.name} offers ${product.gpu.min}-${product.gpu.max} GPU(s); you asked for ${gpus}`,
          { issues: [{ path: ['gpus'], message: `between ${product.gpu.min} and ${product.gpu.max}` }] },
        );
      }
      let gpuType: string | null = null;
      if (gpus > 0) {
        gpuType = parsed.gpuType ?? product.gpu.types[0] ?? null;
        if (!gpuType || !product.gpu.types.includes(gpuType)) {
          throw new AppError(
            'invalid_input',
            `product ${product.name} offers ${product.gpu.types.join(', ') || 'no GPUs'}, not ${parsed.gpuType}`,
            { issues: [{ path: ['gpuType'], message: `one of ${product.gpu.types.join(', ')}` }] },
          );
        }
      }
      const productIdle = product.idleDurationSeconds ?? 3600;
      const idleTimeout = parsed.idleTimeout ? parseDuration(parsed.idleTimeout, 'idleTimeout') : productIdle;
      if (idleTimeout < 10 || idleTimeout > productIdle) {
        throw new AppError(
          'invalid_input',
          `idle timeout ${parsed.idleTimeout} is outside 10s..${formatDuration(productIdle)} (the product's idle duration)`,
          { issues: [{ path: ['idleTimeout'], message: `between 10s and ${formatDuration(productIdle)}` }] },
        );
      }
      const maxLifetime = product.maxDurationSeconds;
      const egress = product.egress === 'blocked' ? 'blocked' : 'allowed';
      if (egress === 'blocked') {
        const support = (deps.namespaceSupport ?? namespaceSupport)();
        if (!support.ok) {
          await audit.record({
            actor: actor.principal.userName,
            action: 'notebook.create',
            resource: `product/${product.name}`,
            team,
            outcome: 'failure',
            requestId: actor.requestId,
            details: { reason: support.reason },
          });
          throw new AppError(
            'unavailable',
            `product ${product.name} blocks egress, which needs a network namespace, and this server cannot make one: ${support.reason}`,
            { details: { reason: support.reason } },
          );
        }
      }
      const price = product.prices[gpus > 0 ? (gpuType ?? '') : 'cpu'];
      const rate = toMicros(price?.onDemand ?? 0);
      const units = Math.max(gpus, 1);
      const estimate = Math.ceil(rate * units * (maxLifetime / 3600));
      const idleWindowCost = Math.ceil(rate * units * (idleTimeout / 3600));
      const id = newId('nb');
      const token = randomBytes(24).toString('hex');
      const now = clock.now();
      const createdAt = new Date(now).toISOString();
      const name = parsed.name ?? `notebook-${id.slice(3, 9)}`;
      const subject = {
        id,
        team,
        owner: actor.principal.userName,
        product,
        gpus,
        gpuType,
        maxLifetimeSeconds: maxLifetime,
      };
      const outcome = await db.transaction().execute(async (trx) => {
        const budget = await readBudget(store, trx, team, now);
        if (budget && budget.remainingMicros <= 0) {
          return {
            refused: new AppError(
              'budget_exceeded',
              `team ${team} has spent its budget of ${formatUsd(budget.maxMicros)} for this period (${formatUsd(Math.max(budget.remainingMicros, 0))} left); a notebook costs ${formatUsd(rate * units)}/h — ask a manager to raise it: aicloud budgets set ${team}`,
              { details: { rule: 'budget-exhausted', remaining: budget.remainingMicros / 1_000_000 } },
            ),
          };
        }
        const exceptions = await trx
          .selectFrom('policy_exceptions')
          .select('policy_id')
          .where('team', '=', team)
          .where('expires_at', '>', createdAt)
          .execute();
        const decision = decide(
          deps.authorizer,
          notebookAdmissionRequest(actor, 'submit_job', subject, {
            estimateMicros: idleWindowCost,
            budget,
            exceptions: exceptions.map((row) => row.policy_id),
          }),
        );
        if (decision.outcome === 'deny' || decision.outcome === 'require_approval') {
          const hit = decision.determining[0];
          return {
            refused: new AppError(
              'policy_denied',
              `[${hit?.policyId ?? 'policy'}] ${hit?.reason ?? 'the policies do not allow this notebook'}`,
              { details: { rule: hit?.policyId ?? null, policySetDigest: decision.policySetDigest } },
            ),
          };
        }
        let indexes: number[] = [];
        if (gpus > 0 && gpuType) {
          const inventory = await trx
            .selectFrom('gpus')
            .select('device_index')
            .where('gpu_type', '=', gpuType)
            .orderBy('device_index')
            .execute();
          const taken = await heldLocalGpus(trx, gpuType);
          const free = inventory.map((gpu) => gpu.device_index).filter((index) => !taken.has(index));
          if (free.length < gpus) {
            return {
              refused: new AppError(
                'conflict',
                `no free ${gpuType} GPU for a notebook now (${inventory.length} in the inventory, ${free.length} free); try later or with --gpus 0`,
              ),
            };
          }
          indexes = free.slice(0, gpus);
        }
        await trx
          .insertInto('notebooks')
          .values({
            id,
            name,
            team,
            owner: actor.principal.userName,
            product: product.name,
            gpus,
            gpu_type: gpuType,
            gpu_indexes: JSON.stringify(indexes),
            egress,
            status: 'starting',
            host: null,
            port: null,
            token_sealed: box.seal(token, `notebook:${id}`),
            netns: egress === 'blocked' ? netnsNames(id).namespace : null,
            work_dir: notebookPaths(dataDir, id).files,
            rate_micros: rate,
            estimate_micros: estimate,
            created_at: createdAt,
            started_at: null,
            last_activity_at: null,
            idle_timeout_s: idleTimeout,
            max_lifetime_s: maxLifetime,
            warned_at: null,
            warning: null,
            snoozed_until: null,
            stopped_at: null,
            stop_reason: null,
            stop_message: null,
            metered_until: null,
            cost_micros: 0,
            external_id: null,
          })
          .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'notebook.created',
          resource: `notebook/${id}`,
          team,
          outcome: 'success',
          requestId: actor.requestId,
          details: {
            product: product.name,
            gpus,
            gpuType,
            gpuIndexes: indexes,
            egress,
            idleTimeoutSeconds: idleTimeout,
            maxLifetimeSeconds: maxLifetime,
            estimatedCost: estimate / 1_000_000,
            policySetDigest: decision.policySetDigest,
          },
        });
        return { refused: null };
      });
      if (outcome.refused) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'notebook.create',
          resource: `product/${product.name}`,
          team,
          outcome: 'deny',
          requestId: actor.requestId,
          details: { code: outcome.refused.code, message: outcome.refused.message },
        });
        throw outcome.refused;
      }
      tokens.set(id, token);
      const row = (await load(id))!;
      await launch(row, product);
      return toNotebook((await load(id))!);
    },

    async list(actor, query = {}) {
      const parsed = NotebookQuery.parse(query);
      const { principal } = actor;
      let select = db.selectFrom('notebooks').selectAll();
      const teams = teamsToList(principal, parsed.team);
      if (teams?.length === 0) return [];
      if (teams) select = select.where('team', 'in', teams);
      if (parsed.status) select = select.where('status', '=', parsed.status);
      const rows = await select
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(parsed.limit)
        .execute();
      return rows.map(toNotebook);
    },

    async get(actor, id) {
      return toNotebook(await visible(actor, id));
    },

    async stop(actor, id) {
      const row = await visible(actor, id);
      const product = await catalog.get(row.product).catch(() => null);
      const decision = decide(
        deps.authorizer,
        notebookStopRequest(actor, {
          id,
          team: row.team,
          owner: row.owner,
          product: product ?? ({ name: row.product, kind: 'notebook' } as Product),
          gpus: row.gpus,
          gpuType: row.gpu_type,
          maxLifetimeSeconds: row.max_lifetime_s,
        }),
      );
      if (decision.outcome === 'deny' || decision.outcome === 'require_approval') {
        await audit.record({
          actor: actor.principal.userName,
          action: 'notebook.stop',
          resource: `notebook/${id}`,
          team: row.team,
          outcome: 'deny',
          requestId: actor.requestId,
          details: { determining: decision.determining.map((hit) => hit.policyId) },
        });
        throw new AppError(
          'forbidden',
          `you may stop only your own notebooks (${row.owner} owns ${id}); a manager of ${row.team} can stop it`,
          { details: { rule: decision.determining[0]?.policyId ?? 'cancel_job' } },
        );
      }
      if (row.status === 'stopped' || row.status === 'failed') {
        throw new AppError('conflict', `notebook ${id} is already ${row.status}`);
      }
      await requestStop(id, 'user', {
        actor: actor.principal.userName,
        requestId: actor.requestId,
        action: 'notebook.stop',
      });
      await waitForEnd(id, ((product?.graceSeconds ?? 30) + 5) * 1000);
      return toNotebook((await load(id))!);
    },

    async snooze(actor, id) {
      const row = await visible(actor, id);
      if (row.status !== 'running') {
        throw new AppError(
          'conflict',
          `notebook ${id} is ${row.status}; only a running notebook can be snoozed`,
        );
      }
      const product = await catalog.get(row.product);
      const now = clock.now();
      const current = deadlinesOf(row, proxyActivity.get(row.id) ?? null);
      if (current.idleDeadline >= current.maxDeadline) {
        throw new AppError(
          'conflict',
          `notebook ${id} already runs until its max lifetime of ${formatDuration(row.max_lifetime_s)} (${new Date(current.maxDeadline).toISOString()}); it cannot be snoozed further`,
        );
      }
      const until = Math.min(
        Math.max(current.idleDeadline, now) + row.idle_timeout_s * 1000,
        current.maxDeadline,
      );
      const units = Math.max(row.gpus, 1);
      const extension = Math.ceil((row.rate_micros * units * (until - current.idleDeadline)) / 3_600_000);
      const refused = await db.transaction().execute(async (trx) => {
        const budget = await readBudget(store, trx, row.team, now);
        const exceptions = await trx
          .selectFrom('policy_exceptions')
          .select('policy_id')
          .where('team', '=', row.team)
          .where('expires_at', '>', new Date(now).toISOString())
          .execute();
        const decision = decide(
          deps.authorizer,
          notebookAdmissionRequest(
            actor,
            'extend_job',
            {
              id,
              team: row.team,
              owner: row.owner,
              product,
              gpus: row.gpus,
              gpuType: row.gpu_type,
              maxLifetimeSeconds: row.max_lifetime_s,
            },
            { estimateMicros: extension, budget, exceptions: exceptions.map((entry) => entry.policy_id) },
          ),
        );
        if (decision.outcome === 'deny' || decision.outcome === 'require_approval') {
          const hit = decision.determining[0];
          return new AppError(
            'policy_denied',
            `[${hit?.policyId ?? 'policy'}] ${hit?.reason ?? 'the policies do not allow this snooze'}`,
            { details: { rule: hit?.policyId ?? null } },
          );
        }
        const updated = await trx
          .updateTable('notebooks')
          .set({ snoozed_until: new Date(until).toISOString(), warned_at: null, warning: null })
          .where('id', '=', id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) {
          return new AppError('conflict', `notebook ${id} stopped meanwhile`);
        }
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'notebook.snoozed',
          resource: `notebook/${id}`,
          team: row.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: {
            previousDeadline: new Date(current.idleDeadline).toISOString(),
            snoozedUntil: new Date(until).toISOString(),
            maxLifetimeAt: new Date(current.maxDeadline).toISOString(),
            policySetDigest: decision.policySetDigest,
          },
        });
        return null;
      });
      if (refused) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'notebook.snooze',
          resource: `notebook/${id}`,
          team: row.team,
          outcome: 'deny',
          requestId: actor.requestId,
          details: { code: refused.code, message: refused.message },
        });
        throw refused;
      }
      return toNotebook((await load(id))!);
    },

    async loginUrl(actor, id) {
      const row = await visible(actor, id);
      if (actor.principal.scope) throw new AppError('forbidden', 'a scoped token cannot open notebooks');
      if (!actor.principal.teams.has(row.team)) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'notebook.login_url',
          resource: `notebook/${id}`,
          team: row.team,
          outcome: 'deny',
          requestId: actor.requestId,
        });
        throw new AppError('forbidden', `only members of team ${row.team} can open notebook ${id}`);
      }
      if (row.status !== 'running' && row.status !== 'starting') {
        throw new AppError(
          'conflict',
          `notebook ${id} is ${row.status}; its files are kept under ${row.work_dir}; start a new one: aicloud notebooks create`,
        );
      }
      const { ticket, expiresAt } = sessions.issueTicket(
        id,
        { userId: actor.principal.userId, tokenId: actor.principal.tokenId },
        clock.now(),
      );
      await audit.record({
        actor: actor.principal.userName,
        action: 'notebook.login_url',
        resource: `notebook/${id}`,
        team: row.team,
        outcome: 'success',
        requestId: actor.requestId,
        details: { expiresAt: new Date(expiresAt).toISOString() },
      });
      const path = `/notebooks/${id}/login?ticket=${ticket}`;
      return {
        url: `${deps.serverUrl().replace(/\/+$/, '')}${path}`,
        path,
        expiresAt: new Date(expiresAt).toISOString(),
      };
    },

    async redeemTicket(id, ticket) {
      const redeemed = sessions.redeemTicket(id, ticket, clock.now());
      const row = redeemed ? await load(id) : undefined;
      const userName =
        row && redeemed && (await tokenValid(redeemed.userId, redeemed.tokenId))
          ? await memberOf(redeemed.userId, row.team)
          : null;
      if (!redeemed || !row || !userName) {
        throw new AppError(
          'unauthenticated',
          'this notebook login link is invalid, used or expired; get a new one: aicloud notebooks open ID',
        );
      }
      const cookie = sessions.sessionCookie(id, redeemed, clock.now());
      await audit.record({
        actor: userName,
        action: 'notebook.login',
        resource: `notebook/${id}`,
        team: row.team,
        outcome: 'success',
      });
      return {
        name: NOTEBOOK_COOKIE,
        value: cookie.value,
        path: `/notebooks/${id}/`,
        maxAgeSeconds: Math.floor(SESSION_TTL_MS / 1000),
      };
    },

    async authorizeProxy(id, credentials) {
      let userId: string;
      if (credentials.bearer) {
        const principal = await identity.authenticate(credentials.bearer);
        if (principal.scope) throw notFound('notebook', id);
        userId = principal.userId;
      } else if (credentials.cookie) {
        const verified = sessions.verifyCookie(id, credentials.cookie, clock.now());
        if (!verified) {
          throw new AppError(
            'unauthenticated',
            'your notebook session is invalid or expired; open the notebook again: aicloud notebooks open ID',
          );
        }
        // The session ends with the API token that opened it (revoked or expired).
        if (!(await tokenValid(verified.userId, verified.tokenId))) {
          throw new AppError(
            'unauthenticated',
            `your notebook session ended: the API token that opened it was revoked or expired; sign in again and run aicloud notebooks open ${id}`,
          );
        }
        userId = verified.userId;
      } else {
        throw new AppError(
          'unauthenticated',
          `sign in to this notebook first: aicloud notebooks open ${id} prints a one-time login URL`,
        );
      }
      const key = `jupyter:${id}`;
      const now = clock.now();
      let cached = accessCache.get(key);
      if (!cached || cached.until <= now) {
        const row = await load(id);
        if (!row) throw notFound('notebook', id);
        const userName = await memberOf(userId, row.team);
        if (!userName) throw notFound('notebook', id);
        if (row.status !== 'running' || !row.host || !row.port) {
          throw new AppError(
            'unavailable',
            `notebook ${id} is ${row.status}${row.stop_message ? ` (${row.stop_message})` : ''}`,
          );
        }
        cached = {
          target: { notebookId: id, host: row.host, port: row.port, token: tokenOf(row) },
          team: row.team,
          until: now + 2000,
        };
        accessCache.set(key, cached);
        return { ...cached.target, userName };
      }
      // Membership is checked on every request: removing a user from the team ends their access at once.
      const userName = await memberOf(userId, cached.team);
      if (!userName) throw notFound('notebook', id);
      return { ...cached.target, userName };
    },

    touch(id) {
      proxyActivity.set(id, clock.now());
    },

    async tick() {
      if (closed) return;
      // One pass at a time: a slow Jupyter must not make passes pile up.
      if (ticking) return ticking;
      ticking = tickOnce().finally(() => {
        ticking = null;
      });
      return ticking;
    },

    async stopAll(reason = 'shutdown') {
      const rows = await db
        .selectFrom('notebooks')
        .select(['id', 'status'])
        .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
        .execute();
      await Promise.all(
        rows.map(async (row) => {
          await requestStop(row.id, 'shutdown', {
            actor: 'system',
            requestId: null,
            action: 'notebook.stop',
            details: { why: reason },
          });
          await waitForEnd(row.id, 40_000);
        }),
      );
      await queue;
    },

    idle: () => enqueue(async () => {}),

    async close() {
      closed = true;
      await ticking;
      unsubscribe();
      await queue;
      await executor.shutdown();
    },
  };
  return service;
}
