import {
  type CreateNotebookRequest,
  type Notebook,
  type NotebookLoginUrl,
  NotebookQuery,
} from '@aicloud/contracts';
import type { Executor } from '@aicloud/executors';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import type { Clock } from '../clock.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import { type Actor, canSeeTeam, teamsToList } from '../identity/principal.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Store } from '../store/open-store.ts';
import type { WorkloadHandler } from '../workloads/workload-supervisor.ts';
import { JUPYTER_BINARY, launchJupyter } from './jupyter-launch.ts';
import {
  createNotebookAccess,
  type NotebookCredentials,
  type NotebookProxyTarget,
  type NotebookSessionCookie,
} from './notebook-access.ts';
import { admitNotebook } from './notebook-admission.ts';
import { createNotebookCuller } from './notebook-culler.ts';
import {
  createNotebookGpuIdleStop,
  type NotebookGpuIdle,
  type NotebookGpuIdleOutcome,
} from './notebook-gpu-idle.ts';
import { createNotebookLifecycle } from './notebook-lifecycle.ts';
import { meterDueNotebooks } from './notebook-metering.ts';
import { namespaceSupport } from './notebook-netns.ts';
import { decide, notebookStopRequest, notebookSubject } from './notebook-policy.ts';
import { type NotebookRow, toNotebook } from './notebook-record.ts';
import { createNotebookRecovery } from './notebook-recovery.ts';
import { snoozeNotebook } from './notebook-snooze.ts';
import { ACTIVE_NOTEBOOK_STATES } from './notebook-state.ts';

export type { NotebookCredentials, NotebookProxyTarget };
export { JUPYTER_BINARY };

/** What the notebook service needs. */
export interface NotebookServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  catalog: CatalogService;
  identity: IdentityService;
  authorizer: Authorizer;
  /** Runs the Jupyter servers (the local executor); its events come through `workload`, its owner shuts it down. */
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
  redeemTicket(id: string, ticket: string): Promise<NotebookSessionCookie>;
  /** Checks a proxied request's credentials and answers where Jupyter is; throws 401/404/503 errors. */
  authorizeProxy(id: string, credentials: NotebookCredentials): Promise<NotebookProxyTarget>;
  /** Records activity seen by the proxy (HTTP requests, websocket frames). */
  touch(id: string): void;
  /**
   * The GPU sampler found every GPU of a notebook idle: asks the policies (`stop_idle_gpu_notebook`) whether
   * it stops now, and stops it (reason `idle_gpu`, audited `notebook.gpu_idle_stop`) when they permit it.
   * Never throws for a refusal or a policy engine failure (the notebook keeps running).
   */
  stopIfGpuIdle(idle: NotebookGpuIdle): Promise<NotebookGpuIdleOutcome>;
  /** One controller pass: reattach once, poll Jupyter, warn, stop idle or expired notebooks (metering is the supervisor's pass). */
  tick(): Promise<void>;
  /** Stops every active notebook (tests and maintenance); waits until they ended. */
  stopAll(reason?: string): Promise<void>;
  /** Resolves when the service has processed every executor event up to now (for tests). */
  idle(): Promise<void>;
  /** Notebooks' part in the workload supervisor: their `ended` events, and re-attaching them once per process. */
  readonly workload: WorkloadHandler;
  /** Stops taking events; Jupyter servers keep running and are re-attached on the next start. */
  close(): Promise<void>;
}

/** Creates the notebook service: wires launch, lifecycle, recovery, culler, access and metering together. */
export function createNotebookService(deps: NotebookServiceDeps): NotebookService {
  const { store, audit, clock, catalog, executor, dataDir } = deps;
  const db = store.db;
  const meterInterval = deps.meterIntervalMs ?? 30_000;
  const startTimeoutMs = deps.startTimeoutMs ?? 60_000;
  const jupyter = { dataDir, executor, jupyterBinary: deps.jupyterBinary ?? JUPYTER_BINARY };
  const lifecycle = createNotebookLifecycle({ db, audit, clock, executor, box: deps.box });
  const launch = { ...jupyter, db, audit, lifecycle, startTimeoutMs };
  const recovery = createNotebookRecovery({ ...jupyter, db, audit, catalog, lifecycle, startTimeoutMs });
  const culler = createNotebookCuller({ db, audit, clock, lifecycle });
  const gpuIdleStop = createNotebookGpuIdleStop({
    audit,
    catalog,
    authorizer: deps.authorizer,
    lifecycle,
    reattached: () => recovery.ensure(),
  });
  const access = createNotebookAccess({
    db,
    audit,
    clock,
    identity: deps.identity,
    lifecycle,
    dataDir,
    serverUrl: deps.serverUrl,
  });
  let ticking: Promise<void> | null = null;
  let closed = false;

  async function visible(actor: Actor, id: string): Promise<NotebookRow> {
    const row = await lifecycle.load(id);
    if (!row || !canSeeTeam(actor.principal, row.team)) throw notFound('notebook', id);
    return row;
  }

  const activeRows = () =>
    db
      .selectFrom('notebooks')
      .selectAll()
      .where('status', 'in', [...ACTIVE_NOTEBOOK_STATES])
      .execute();

  async function tickOnce(): Promise<void> {
    await recovery.ensure();
    const rows = await activeRows();
    const now = clock.now();
    await culler.cull(rows, now);
    await recovery.reconcile(rows, now);
  }

  return {
    async create(actor, request) {
      if (closed) throw new AppError('unavailable', 'the platform is shutting down');
      const admitted = await admitNotebook(
        { ...deps, namespaceSupport: deps.namespaceSupport ?? namespaceSupport },
        actor,
        request,
      );
      lifecycle.rememberToken(admitted.id, admitted.token);
      await launchJupyter(launch, (await lifecycle.load(admitted.id))!, admitted.product);
      return toNotebook((await lifecycle.load(admitted.id))!);
    },

    async list(actor, query = {}) {
      const parsed = NotebookQuery.parse(query);
      let select = db.selectFrom('notebooks').selectAll();
      const teams = teamsToList(actor.principal, parsed.team);
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
      const decision = decide(deps.authorizer, notebookStopRequest(actor, notebookSubject(row, product)));
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
      // After a restart the executor knows a notebook only once it is reattached.
      await recovery.ensure();
      await lifecycle.requestStop(id, 'user', {
        actor: actor.principal.userName,
        requestId: actor.requestId,
        action: 'notebook.stop',
      });
      await lifecycle.waitForEnd(id, ((product?.graceSeconds ?? 30) + 5) * 1000);
      return toNotebook((await lifecycle.load(id))!);
    },

    async snooze(actor, id) {
      const row = await visible(actor, id);
      await snoozeNotebook(deps, actor, row, culler.proxyActivityOf(id));
      return toNotebook((await lifecycle.load(id))!);
    },

    async loginUrl(actor, id) {
      return access.loginUrl(actor, await visible(actor, id));
    },

    redeemTicket: (id, ticket) => access.redeemTicket(id, ticket),

    authorizeProxy: (id, credentials) => access.authorizeProxy(id, credentials),

    touch(id) {
      culler.touch(id);
    },

    async stopIfGpuIdle(idle) {
      if (closed) return 'not_running';
      return gpuIdleStop(idle);
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
      const rows = await activeRows();
      await recovery.ensure();
      await Promise.all(
        rows.map(async (row) => {
          await lifecycle.requestStop(row.id, 'shutdown', {
            actor: 'system',
            requestId: null,
            action: 'notebook.stop',
            details: { why: reason },
          });
          await lifecycle.waitForEnd(row.id, 40_000);
        }),
      );
      await lifecycle.drained();
    },

    idle: () => lifecycle.drained(),

    workload: {
      kind: 'notebook',
      owns: (id) => id.startsWith('nb_'),
      onEvent: (event) => lifecycle.onExecutorEvent(event),
      reattach: () => recovery.ensure(),
      meterDue: () => meterDueNotebooks(db, clock, meterInterval),
    },

    async close() {
      closed = true;
      await ticking;
      lifecycle.close();
      await lifecycle.drained();
    },
  };
}
