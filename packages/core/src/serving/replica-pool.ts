import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor, ExecutorEvent, WorkloadPlacement, WorkloadSandbox } from '@aicloud/executors';
import type { Selectable } from 'kysely';
import { type Dispatcher, Pool, request } from 'undici';
import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { moveEndpoint, moveReplica } from '../workloads/endpoint-state.ts';
import { pickFreeGpus } from '../workloads/gpu-ledger.ts';
import { accrue, hourlyRateMicros } from '../workloads/workload-meter.ts';
import type { WorkloadHandler } from '../workloads/workload-supervisor.ts';
import { EndpointStatsRecorder } from './endpoint-stats.ts';
import { type RuntimeTemplate, renderCommand } from './runtimes.ts';

type EndpointRow = Selectable<Database['endpoints']>;

/** A model server process of an endpoint, as the pool tracks it. */
interface Replica {
  id: string;
  /** Its unix socket, and the connection pool the gateway reaches it through. */
  socket: string;
  dispatcher: Pool;
  /** The executor its product names, which started it. */
  executor: Executor;
  status: 'starting' | 'ready' | 'stopping';
  inFlight: number;
  ready: Promise<void>;
}

/** What the pool needs. */
export interface ReplicaPoolDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  catalog: CatalogService;
  /** Executors by name: a replica runs on the one its endpoint's product names. */
  executors: Record<string, Executor>;
  dataDir: string;
  runtimes: Record<string, RuntimeTemplate>;
  /** How long a request waits for a replica to start before 503 (default 120 s). */
  coldStartTimeoutMs?: number;
  meterIntervalMs?: number;
}

/** Replicas of endpoints: started through the executor, probed for readiness, scaled by load and idleness. */
export interface ReplicaPool {
  /** A ready replica for one request (starting one if none runs: scale from zero); call release() when done. */
  acquire(endpoint: EndpointRow): Promise<ReplicaLease>;
  stats(endpointId: string): EndpointStatsRecorder;
  /** Keeps min replicas, adds replicas under load, stops idle ones, meters their time. */
  tick(): Promise<void>;
  stopAll(endpointId: string, reason: string): Promise<void>;
  /** Stops an endpoint's replicas once their requests in flight have finished (30 s at most). */
  retire(endpointId: string, reason: string): Promise<void>;
  /**
   * Replaces an endpoint's replicas with ones of its row as it is now (a promoted version): as many new ones
   * start as ran, and the old ones stop once the new ones are ready and their own requests are done.
   */
  roll(endpoint: EndpointRow): Promise<void>;
  /** Replicas' part in the workload supervisor: their `ended` events, and re-attaching the live ones after a restart. */
  readonly workload: WorkloadHandler;
  /** Stops taking events; replicas keep running and are re-attached on the next start. */
  shutdown(): Promise<void>;
}

/** One request's hold on a ready replica. */
export interface ReplicaLease {
  /** Send the request here (`${origin}/v1/…`) with this dispatcher: it connects to the replica's socket. */
  origin: string;
  dispatcher: Dispatcher;
  /** The replica's unix socket (a gateway worker connects to it with its own dispatcher). */
  socket: string;
  release(): void;
  coldStartMs: number | null;
}

// A unix socket path is at most 107 bytes on Linux.
const maxSocketPath = 107;

/** Where a replica listens: a unix socket in its own folder, which the sandbox mounts for it alone. */
export function replicaSocket(dataDir: string, endpointId: string, replicaId: string): string {
  return join(dataDir, 'endpoints', endpointId, replicaId, 'replica.sock');
}

/**
 * A replica sees the model it serves read-only and has no network: the gateway comes in through its socket.
 * The artifact folder (files 0444, made 0700) becomes 0755 so the replica's own uid can read it; the data
 * dir above it stays 0700 on the host and does not exist inside any sandbox.
 */
function replicaSandbox(endpoint: EndpointRow): WorkloadSandbox {
  if (!endpoint.artifact_dir) return { egress: 'blocked', readOnly: [] };
  try {
    chmodSync(endpoint.artifact_dir, 0o755);
  } catch {
    // Missing: the replica fails to load its model and says so in its log.
  }
  return { egress: 'blocked', readOnly: [endpoint.artifact_dir] };
}

/** Where a replica runs: its endpoint's GPUs and type, on-demand, labelled with its endpoint and team. */
function replicaPlacement(endpoint: EndpointRow, image: string | undefined): WorkloadPlacement {
  return {
    gpus: endpoint.gpus,
    ...(endpoint.gpu_type ? { gpuType: endpoint.gpu_type } : {}),
    spot: false,
    ...(image ? { image } : {}),
    labels: { 'aicloud.dev/team': endpoint.team, 'aicloud.dev/endpoint': endpoint.name },
  };
}

/** The connection pool to a replica's unix socket (the primary's, and each gateway worker's own). */
export function replicaDispatcher(socket: string): Pool {
  return new Pool('http://replica', { socketPath: socket, connections: 64, keepAliveTimeout: 30_000 });
}

/** Creates the replica pool. */
export function createReplicaPool(deps: ReplicaPoolDeps): ReplicaPool {
  const { store, audit, clock, catalog, executors, dataDir, runtimes } = deps;
  const db = store.db;
  const timeout = deps.coldStartTimeoutMs ?? 120_000;
  const meterInterval = deps.meterIntervalMs ?? 30_000;
  const pools = new Map<string, Map<string, Replica>>();
  const recorders = new Map<string, EndpointStatsRecorder>();
  const replicaEndpoint = new Map<string, string>();

  /** The executor a product names, refused clearly when this platform has none by that name. */
  function executorOf(product: { name: string; executor: string }): Executor {
    const executor = executors[product.executor];
    if (!executor)
      throw new AppError(
        'unavailable',
        `product ${product.name} runs on executor ${product.executor}, which this platform does not have (it has: ${Object.keys(executors).join(', ')})`,
      );
    return executor;
  }

  let closed = false;
  const onEvent = (event: ExecutorEvent) => {
    if (closed || event.type !== 'ended') return;
    const endpointId = replicaEndpoint.get(event.id);
    if (!endpointId) return;
    void pools
      .get(endpointId)
      ?.get(event.id)
      ?.dispatcher.close()
      .catch(() => {});
    pools.get(endpointId)?.delete(event.id);
    replicaEndpoint.delete(event.id);
    void markStopped(event.id, event.status.reason ?? event.status.state);
  };

  function stats(endpointId: string): EndpointStatsRecorder {
    let recorder = recorders.get(endpointId);
    if (!recorder) {
      recorder = new EndpointStatsRecorder();
      recorders.set(endpointId, recorder);
    }
    return recorder;
  }

  function poolOf(endpointId: string): Map<string, Replica> {
    let pool = pools.get(endpointId);
    if (!pool) {
      pool = new Map();
      pools.set(endpointId, pool);
    }
    return pool;
  }

  async function markStopped(replicaId: string, reason: string): Promise<void> {
    const at = clock.now();
    await db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('endpoint_replicas')
        .selectAll()
        .where('id', '=', replicaId)
        .executeTakeFirst();
      if (!row || row.status === 'stopped') return;
      await meterReplica(trx, row, at);
      await moveReplica(trx, replicaId, 'stopped', { stopped_at: new Date(at).toISOString() });
      const endpoint = await trx
        .selectFrom('endpoints')
        .select(['team', 'name'])
        .where('id', '=', row.endpoint_id)
        .executeTakeFirst();
      await audit.append(trx, {
        actor: 'system',
        action: 'endpoint.replica_stopped',
        resource: `endpoint/${endpoint?.name ?? row.endpoint_id}`,
        team: endpoint?.team ?? null,
        outcome: 'success',
        details: { replica: replicaId, reason },
      });
    });
  }

  async function meterReplica(
    trx: import('kysely').Transaction<Database>,
    row: Selectable<Database['endpoint_replicas']>,
    until: number,
  ): Promise<void> {
    const from = Date.parse(row.metered_until ?? row.started_at);
    if (until <= from) return;
    const endpoint = await trx
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', row.endpoint_id)
      .executeTakeFirst();
    if (!endpoint) return;
    const placement = { gpus: endpoint.gpus, gpuType: endpoint.gpu_type, spot: false };
    await accrue(
      trx,
      clock,
      {
        kind: 'endpoint',
        id: endpoint.id,
        team: endpoint.team,
        user: endpoint.created_by,
        project: endpoint.name,
        category: 'inference',
        placement,
        rateMicros:
          endpoint.rate_micros ?? hourlyRateMicros((await catalog.get(endpoint.product)).prices, placement),
      },
      from,
      until,
    );
    await trx
      .updateTable('endpoint_replicas')
      .set({ metered_until: new Date(until).toISOString() })
      .where('id', '=', row.id)
      .execute();
  }

  async function probe(replica: Replica, healthPath: string): Promise<boolean> {
    try {
      const response = await request(`http://replica${healthPath}`, {
        dispatcher: replica.dispatcher,
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      await response.body.dump();
      return response.statusCode === 200;
    } catch {
      return false;
    }
  }

  async function startReplica(endpoint: EndpointRow, onDemand: boolean): Promise<Replica> {
    const runtime = runtimes[endpoint.runtime];
    if (!runtime)
      throw new AppError('unavailable', `runtime ${endpoint.runtime} is not configured on this platform`);
    const product = await catalog.get(endpoint.product);
    const executor = executorOf(product);
    const id = newId('rep');
    const started = clock.now();
    const dir = join(dataDir, 'endpoints', endpoint.id);
    const socket = replicaSocket(dataDir, endpoint.id, id);
    if (socket.length > maxSocketPath)
      throw new AppError(
        'unavailable',
        `the replica's socket path ${socket} is longer than Linux allows (${maxSocketPath} bytes): use a shorter --data-dir`,
      );
    mkdirSync(dir, { recursive: true });
    // The replica's GPUs come from the one ledger, in the transaction that records it as starting: never a
    // GPU a job, a notebook or another replica holds.
    const gpuIndexes = await db.transaction().execute(async (trx) => {
      let indexes: number[] = [];
      if (endpoint.gpus > 0 && endpoint.gpu_type && executor.name === 'local') {
        const pick = await pickFreeGpus(trx, endpoint.gpu_type, endpoint.gpus);
        if (!pick.ok)
          throw new AppError(
            'unavailable',
            `no replica of ${endpoint.name} can start: it needs ${endpoint.gpus} ${endpoint.gpu_type} GPU(s) and ${pick.free} of ${pick.inventory} are free (jobs, notebooks and replicas hold the rest); retry later or scale another workload down`,
            { details: { retryAfter: 30 } },
          );
        indexes = pick.indexes;
      }
      await trx
        .insertInto('endpoint_replicas')
        .values({
          id,
          endpoint_id: endpoint.id,
          port: 0,
          external_id: null,
          status: 'starting',
          gpu_indexes: JSON.stringify(indexes),
          started_at: new Date(started).toISOString(),
          ready_at: null,
          stopped_at: null,
          metered_until: new Date(started).toISOString(),
          cold_start_ms: null,
        })
        .execute();
      return indexes;
    });
    const replica: Replica = {
      id,
      socket,
      dispatcher: replicaDispatcher(socket),
      executor,
      status: 'starting',
      inFlight: 0,
      ready: Promise.resolve(),
    };
    poolOf(endpoint.id).set(id, replica);
    replicaEndpoint.set(id, endpoint.id);
    replica.ready = (async () => {
      const handle = await executor.start({
        id,
        command: renderCommand(runtime, { modelDir: endpoint.artifact_dir, socket, name: endpoint.name }),
        workDir: join(dir, id),
        env: { AICLOUD_ENDPOINT: endpoint.name },
        sandbox: replicaSandbox(endpoint),
        placement: replicaPlacement(endpoint, product.image),
        exposure: { socket, egress: 'blocked' },
        gpus: gpuIndexes.map(String),
        maxRuntimeSeconds: product.maxDurationSeconds,
        graceSeconds: product.graceSeconds,
        secrets: {},
        logFile: join(dir, `${id}.log`),
        outputDir: join(dir, id, 'output'),
        checkpointDir: join(dir, id, 'checkpoints'),
      });
      await db
        .updateTable('endpoint_replicas')
        .set({ external_id: handle.externalId })
        .where('id', '=', id)
        .execute();
      // The gateway goes where the executor says the replica listens.
      if (!handle.address?.startsWith('/')) {
        await executor.cancel(id, 'start_failed');
        throw new AppError(
          'unavailable',
          `executor ${executor.name} reports no socket for replica ${id} of ${endpoint.name} (${handle.address ?? 'no address'}); endpoints need an executor that returns one (local)`,
        );
      }
      if (handle.address !== replica.socket) {
        void replica.dispatcher.close().catch(() => {});
        replica.socket = handle.address;
        replica.dispatcher = replicaDispatcher(handle.address);
      }
      const deadline = started + timeout;
      while (!(await probe(replica, runtime.healthPath))) {
        if (!replicaEndpoint.has(id))
          throw new AppError(
            'unavailable',
            `replica ${id} of ${endpoint.name} exited while starting; see ${join(dir, `${id}.log`)}`,
          );
        if (clock.now() > deadline) {
          await executor.cancel(id, 'start_timeout');
          throw new AppError(
            'unavailable',
            `replica of ${endpoint.name} did not become ready within ${Math.round(timeout / 1000)}s`,
            { details: { retryAfter: 30 } },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const coldStartMs = clock.now() - started;
      replica.status = 'ready';
      await moveReplica(db, id, 'ready', { ready_at: isoNow(clock), cold_start_ms: coldStartMs });
      if (onDemand) {
        const recorder = stats(endpoint.id);
        recorder.coldStarts += 1;
        recorder.lastColdStartMs = coldStartMs;
      }
      await moveEndpoint(db, endpoint.id, 'ready');
    })();
    replica.ready.catch(() => {
      poolOf(endpoint.id).delete(id);
    });
    return replica;
  }

  async function stopReplica(replica: Replica, reason: string): Promise<void> {
    replica.status = 'stopping';
    await replica.executor.cancel(replica.id, reason);
  }

  /** Takes no new requests at once, then stops when the ones in flight are done (or after 30 s). */
  async function drain(replica: Replica, reason: string): Promise<void> {
    replica.status = 'stopping';
    const deadline = clock.now() + 30_000;
    while (replica.inFlight > 0 && clock.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await replica.executor.cancel(replica.id, reason);
  }

  /** Re-attaches the replicas the store believes are starting or ready (once, at start). */
  async function recover(): Promise<void> {
    const rows = await db
      .selectFrom('endpoint_replicas')
      .selectAll()
      .where('status', 'in', ['starting', 'ready'])
      .execute();
    for (const row of rows) {
      const endpoint = await db
        .selectFrom('endpoints')
        .selectAll()
        .where('id', '=', row.endpoint_id)
        .executeTakeFirst();
      const runtime = endpoint ? runtimes[endpoint.runtime] : undefined;
      if (!endpoint || !runtime || !row.external_id) {
        await markStopped(row.id, 'lost');
        continue;
      }
      const dir = join(dataDir, 'endpoints', endpoint.id);
      const product = await catalog.get(endpoint.product);
      const executor = executors[product.executor];
      if (!executor) {
        await markStopped(row.id, 'lost');
        continue;
      }
      replicaEndpoint.set(row.id, endpoint.id);
      const socket = replicaSocket(dataDir, endpoint.id, row.id);
      const status = await executor.reattach({
        id: row.id,
        externalId: row.external_id,
        startedAt: Date.parse(row.started_at),
        spec: {
          id: row.id,
          command: renderCommand(runtime, { modelDir: endpoint.artifact_dir, socket, name: endpoint.name }),
          workDir: join(dir, row.id),
          env: {},
          sandbox: replicaSandbox(endpoint),
          placement: replicaPlacement(endpoint, product.image),
          exposure: { socket, egress: 'blocked' },
          gpus: [],
          maxRuntimeSeconds: product.maxDurationSeconds,
          graceSeconds: product.graceSeconds,
          secrets: {},
          logFile: join(dir, `${row.id}.log`),
          outputDir: join(dir, row.id, 'output'),
          checkpointDir: join(dir, row.id, 'checkpoints'),
        },
      });
      if (row.port !== 0) {
        // Started by a version that served replicas on TCP ports, which any workload could call: replaced.
        await executor.cancel(row.id, 'superseded');
        continue;
      }
      if (status.state !== 'running') {
        replicaEndpoint.delete(row.id);
        await markStopped(row.id, status.reason ?? status.state);
        continue;
      }
      poolOf(endpoint.id).set(row.id, {
        id: row.id,
        socket,
        dispatcher: replicaDispatcher(socket),
        executor,
        status: 'ready',
        inFlight: 0,
        ready: Promise.resolve(),
      });
    }
  }

  return {
    stats,

    async acquire(endpoint) {
      const pool = poolOf(endpoint.id);
      // A waiting request counts as activity, so the idle check never stops the replica it waits for.
      stats(endpoint.id).lastRequestAt = clock.now();
      const ready = [...pool.values()].filter((replica) => replica.status === 'ready');
      let coldStartMs: number | null = null;
      let chosen = ready.sort((a, b) => a.inFlight - b.inFlight)[0];
      const starting = [...pool.values()].filter((replica) => replica.status === 'starting');
      if (
        chosen &&
        chosen.inFlight >= endpoint.target_concurrency &&
        ready.length + starting.length < endpoint.max_replicas
      ) {
        // Over the target concurrency: add a replica for the requests to come; this one still goes through.
        void startReplica(endpoint, false).catch(() => {});
      }
      if (!chosen) {
        const waitFor = starting.length > 0 ? starting : [await startReplica(endpoint, true)];
        const began = clock.now();
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new AppError(
                  'unavailable',
                  `no replica of ${endpoint.name} became ready within ${Math.round(timeout / 1000)}s`,
                  { details: { retryAfter: 30 } },
                ),
              ),
            timeout,
          );
        });
        try {
          await Promise.race([Promise.any(waitFor.map((replica) => replica.ready)), expired]);
        } catch (error) {
          if (error instanceof AggregateError)
            throw (
              error.errors[0] ?? new AppError('unavailable', `no replica of ${endpoint.name} could start`)
            );
          throw error;
        } finally {
          clearTimeout(timer);
        }
        coldStartMs = clock.now() - began;
        chosen = [...pool.values()]
          .filter((replica) => replica.status === 'ready')
          .sort((a, b) => a.inFlight - b.inFlight)[0];
        if (!chosen)
          throw new AppError('unavailable', `no replica of ${endpoint.name} is ready`, {
            details: { retryAfter: 5 },
          });
      }
      const replica = chosen;
      replica.inFlight += 1;
      const recorder = stats(endpoint.id);
      recorder.inFlight += 1;
      recorder.lastRequestAt = clock.now();
      let released = false;
      return {
        origin: 'http://replica',
        dispatcher: replica.dispatcher,
        socket: replica.socket,
        coldStartMs,
        release() {
          if (released) return;
          released = true;
          replica.inFlight -= 1;
          recorder.inFlight -= 1;
          recorder.lastRequestAt = clock.now();
        },
      };
    },

    async tick() {
      const endpoints = await db
        .selectFrom('endpoints')
        .selectAll()
        .where('status', '!=', 'deleted')
        .execute();
      const now = clock.now();
      for (const endpoint of endpoints) {
        const pool = poolOf(endpoint.id);
        const live = [...pool.values()].filter((replica) => replica.status !== 'stopping');
        const recorder = stats(endpoint.id);
        const idleFor = now - Math.max(recorder.lastRequestAt, Date.parse(endpoint.created_at));
        if (live.length < endpoint.min_replicas) {
          for (let count = live.length; count < endpoint.min_replicas; count += 1)
            void startReplica(endpoint, false).catch(() => {});
        } else if (
          live.length > endpoint.min_replicas &&
          idleFor >= endpoint.idle_timeout_s * 1000 &&
          recorder.inFlight === 0
        ) {
          const extra = live
            .filter((replica) => replica.inFlight === 0 && replica.status === 'ready')
            .slice(0, live.length - endpoint.min_replicas);
          for (const replica of extra) await stopReplica(replica, 'idle');
          if (endpoint.min_replicas === 0 && extra.length === live.length) {
            await moveEndpoint(db, endpoint.id, 'scaled_to_zero');
            await audit.record({
              actor: 'system',
              action: 'endpoint.scaled_to_zero',
              resource: `endpoint/${endpoint.name}`,
              team: endpoint.team,
              outcome: 'success',
              details: { idleSeconds: Math.round(idleFor / 1000) },
            });
          }
        }
      }
    },

    async stopAll(endpointId, reason) {
      for (const replica of poolOf(endpointId).values()) await stopReplica(replica, reason);
    },

    async retire(endpointId, reason) {
      await Promise.all([...poolOf(endpointId).values()].map((replica) => drain(replica, reason)));
    },

    async roll(endpoint) {
      const old = [...poolOf(endpoint.id).values()].filter((replica) => replica.status !== 'stopping');
      const count = Math.min(endpoint.max_replicas, Math.max(endpoint.min_replicas, old.length));
      const fresh: Replica[] = [];
      for (let started = 0; started < count; started += 1) fresh.push(await startReplica(endpoint, false));
      await Promise.allSettled(fresh.map((replica) => replica.ready));
      await Promise.all(old.map((replica) => drain(replica, 'replaced')));
    },

    workload: {
      kind: 'replica',
      owns: (id) => id.startsWith('rep_'),
      onEvent,
      reattach: recover,
      async meterDue(now) {
        const due = new Date(now - meterInterval).toISOString();
        const running = await db
          .selectFrom('endpoint_replicas')
          .selectAll()
          .where('status', 'in', ['starting', 'ready'])
          .where('metered_until', '<=', due)
          .execute();
        for (const row of running) await db.transaction().execute((trx) => meterReplica(trx, row, now));
      },
    },

    async shutdown() {
      closed = true;
    },
  };
}
