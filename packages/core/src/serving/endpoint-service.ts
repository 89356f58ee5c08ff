import { createHash, randomBytes } from 'node:crypto';
import {
  type CreatedKey,
  CreateKeyRequest,
  DeployModelRequest,
  type Endpoint,
  type EndpointKey,
} from '@aicloud/contracts';
import type { Selectable } from 'kysely';
import { activeExceptions } from '../admission/admission-facts.ts';
import { checkPolicy, refusingHit } from '../admission/policy-check.ts';
import { readBudget } from '../admission/team-usage.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import { createKeyRequest } from '../identity/key-policy.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { ModelService } from '../registry/model-service.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { moveEndpoint } from '../workloads/endpoint-state.ts';
import { hourlyRateMicros } from '../workloads/workload-meter.ts';
import { type DeploySubject, deployRefusal, deployRequest } from './deploy-policy.ts';
import type { ReplicaPool } from './replica-pool.ts';
import { DEFAULT_ROLLOUT_THRESHOLDS, type RolloutThresholds, rolloutSteps } from './rollout-analysis.ts';
import { latestRollout, rolloutView } from './rollout-service.ts';
import type { RuntimeTemplate } from './runtimes.ts';
import { visibleEndpoint } from './visible-endpoint.ts';

type EndpointRow = Selectable<Database['endpoints']>;
type KeyRow = Selectable<Database['endpoint_keys']>;

/** The hash an endpoint key is stored under. */
export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function toKey(row: KeyRow, endpoint: string): EndpointKey {
  return {
    id: row.id,
    endpoint,
    team: row.team,
    name: row.name,
    prefix: row.prefix,
    rpm: row.rpm,
    tpm: row.tpm,
    maxTokensPerPeriod: row.max_tokens_per_period,
    period: row.period,
    createdBy: row.created_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** Endpoints: deploy a scanned model version, list, scale, delete; and their keys. */
export interface EndpointService {
  deploy(actor: Actor, request: DeployModelRequest): Promise<Endpoint>;
  list(actor: Actor): Promise<Endpoint[]>;
  get(actor: Actor, name: string): Promise<Endpoint>;
  scale(
    actor: Actor,
    name: string,
    request: { minReplicas?: number; maxReplicas?: number },
  ): Promise<Endpoint>;
  delete(actor: Actor, name: string): Promise<Endpoint>;
  createKey(actor: Actor, request: CreateKeyRequest): Promise<CreatedKey>;
  listKeys(actor: Actor, endpoint?: string): Promise<EndpointKey[]>;
  revokeKey(actor: Actor, id: string): Promise<EndpointKey>;
}

/** What the endpoint service needs. */
export interface EndpointServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  catalog: CatalogService;
  models: ModelService;
  pool: ReplicaPool;
  runtimes: Record<string, RuntimeTemplate>;
  /** Base URL clients call (`…/v1`). */
  publicUrl: () => string;
  /** Called when a key is revoked, so the gateway forgets it at once. */
  onKeyRevoked?: (hash: string) => void;
  /** Called when a canary rollout starts or ends here, so the gateway routes by it at once. */
  onRoutesChanged?: () => void;
  /** The policy engine every deployment and key is checked against. */
  authorizer: Authorizer;
}

/** What only a canary rollout takes: refused on a deploy that does not start one. */
const ROLLOUT_OPTIONS = [
  'canary',
  'canarySteps',
  'analysisWindow',
  'minRequests',
  'maxErrorRateIncrease',
  'maxLatencyRatio',
  'latencyAllowanceMs',
  'maxQualityDrop',
] as const;

/** Creates the endpoint service. */
export function createEndpointService(deps: EndpointServiceDeps): EndpointService {
  const { store, audit, clock, catalog, models, pool, runtimes } = deps;
  const db = store.db;

  async function view(row: EndpointRow): Promise<Endpoint> {
    const replicas = await db
      .selectFrom('endpoint_replicas')
      .selectAll()
      .where('endpoint_id', '=', row.id)
      .where('status', 'in', ['starting', 'ready'])
      .orderBy('started_at')
      .execute();
    return {
      id: row.id,
      name: row.name,
      team: row.team,
      model: row.model_name,
      version: row.version,
      runtime: row.runtime,
      product: row.product,
      gpus: row.gpus,
      gpuType: row.gpu_type,
      minReplicas: row.min_replicas,
      maxReplicas: row.max_replicas,
      targetConcurrency: row.target_concurrency,
      idleTimeoutSeconds: row.idle_timeout_s,
      corsOrigins: row.cors_origins ? (JSON.parse(row.cors_origins) as string[]) : [],
      status:
        row.status === 'deleted'
          ? 'deleted'
          : replicas.some((replica) => replica.status === 'ready')
            ? 'ready'
            : replicas.length > 0
              ? 'starting'
              : 'scaled_to_zero',
      replicas: replicas.map((replica) => ({
        id: replica.id,
        status: replica.status,
        startedAt: replica.started_at,
        readyAt: replica.ready_at,
      })),
      stats: pool.stats(row.id).snapshot(),
      createdBy: row.created_by,
      createdAt: row.created_at,
      url: `${deps.publicUrl()}/v1`,
      rollout: await latestRollout(db, row.id).then((rollout) => (rollout ? rolloutView(db, rollout) : null)),
    };
  }

  const visible = (actor: Actor, name: string) => visibleEndpoint(db, actor, name);

  async function refuse(
    actor: Actor,
    resource: string,
    team: string,
    code: 'policy_denied' | 'budget_exceeded' | 'approval_required' | 'forbidden',
    rule: string,
    message: string,
    policySetDigest: string,
  ): Promise<never> {
    await audit.record({
      actor: actor.principal.userName,
      action: 'endpoint.deploy',
      resource,
      team,
      outcome: 'deny',
      requestId: actor.requestId,
      details: { rule, message, policySetDigest },
    });
    throw new AppError(code, message, { details: { rule } });
  }

  /**
   * Deploys `next` (a new version, already admitted by the deploy policy) beside `stable` as a canary: a
   * hidden endpoint row with the stable one's scaling, and a rollout that starts at the requested share of
   * traffic (default 10%) and doubles it at each analysis step that passes.
   */
  async function startCanary(
    actor: Actor,
    stable: EndpointRow,
    next: EndpointRow,
    request: ReturnType<typeof DeployModelRequest.parse>,
  ): Promise<EndpointRow> {
    const canary: EndpointRow = {
      ...next,
      name: `${stable.name}@v${next.version}`,
      min_replicas: stable.min_replicas > 0 ? 1 : 0,
      max_replicas: stable.max_replicas,
      target_concurrency: stable.target_concurrency,
      idle_timeout_s: stable.idle_timeout_s,
      cors_origins: stable.cors_origins ?? null,
      status: stable.min_replicas > 0 ? 'starting' : 'scaled_to_zero',
      canary_of: stable.id,
    };
    // The weights as asked, or from the first share doubling; the thresholds as asked, or the defaults.
    const steps = request.canarySteps ?? rolloutSteps(request.canary ?? 10);
    const defaults = DEFAULT_ROLLOUT_THRESHOLDS;
    const thresholds: RolloutThresholds = {
      minRequests: request.minRequests ?? defaults.minRequests,
      maxErrorRateIncrease: request.maxErrorRateIncrease ?? defaults.maxErrorRateIncrease,
      maxLatencyRatio: request.maxLatencyRatio ?? defaults.maxLatencyRatio,
      latencyAllowanceMs: request.latencyAllowanceMs ?? defaults.latencyAllowanceMs,
      maxQualityDrop: request.maxQualityDrop ?? defaults.maxQualityDrop,
    };
    const windowSeconds = request.analysisWindow
      ? parseDuration(request.analysisWindow, 'analysisWindow')
      : 300;
    const now = isoNow(clock);
    await db.transaction().execute(async (trx) => {
      const running = await trx
        .selectFrom('endpoint_rollouts')
        .select(['to_version'])
        .where('endpoint_id', '=', stable.id)
        .where('status', '=', 'progressing')
        .executeTakeFirst();
      if (running)
        throw new AppError(
          'conflict',
          `endpoint ${stable.name} is rolling out version ${running.to_version}; promote or abort it first (aicloud endpoints rollout promote|abort ${stable.name})`,
        );
      // Names are unique: an earlier canary of this version, rolled back or aborted, makes way (as deploy does).
      await trx
        .deleteFrom('endpoints')
        .where('name', '=', canary.name)
        .where('status', '=', 'deleted')
        .execute();
      await trx.insertInto('endpoints').values(canary).execute();
      const rollout = {
        id: newId('ro'),
        endpoint_id: stable.id,
        canary_id: canary.id,
        endpoint: stable.name,
        team: stable.team,
        model: next.model_name,
        from_version: stable.version,
        to_version: next.version,
        status: 'progressing',
        steps: JSON.stringify(steps),
        step: 0,
        window_s: windowSeconds,
        min_requests: thresholds.minRequests,
        max_error_rate_increase: thresholds.maxErrorRateIncrease,
        max_latency_ratio: thresholds.maxLatencyRatio,
        latency_allowance_ms: thresholds.latencyAllowanceMs,
        max_quality_drop: thresholds.maxQualityDrop,
        quality: null,
        waiting: null,
        step_started_at: now,
        created_by: actor.principal.userName,
        created_at: now,
        ended_at: null,
      };
      await trx.insertInto('endpoint_rollouts').values(rollout).execute();
      await audit.append(trx, {
        actor: actor.principal.userName,
        action: 'endpoint.rollout_started',
        resource: `endpoint/${stable.name}`,
        team: stable.team,
        outcome: 'allow',
        requestId: actor.requestId,
        details: {
          rollout: rollout.id,
          model: next.model_name,
          fromVersion: stable.version,
          toVersion: next.version,
          steps,
          analysisWindowSeconds: windowSeconds,
          minRequests: rollout.min_requests,
          thresholds: {
            maxErrorRateIncrease: rollout.max_error_rate_increase,
            maxLatencyRatio: rollout.max_latency_ratio,
            latencyAllowanceMs: rollout.latency_allowance_ms,
            maxQualityDrop: rollout.max_quality_drop,
          },
        },
      });
    });
    deps.onRoutesChanged?.();
    return stable;
  }

  return {
    async deploy(actor, input) {
      const request = DeployModelRequest.parse(input);
      if (request.canary !== undefined && request.canarySteps !== undefined)
        throw new AppError(
          'invalid_input',
          `canary ${request.canary} and canarySteps ${JSON.stringify(request.canarySteps)} both set the canary's weights: give canary (the first share, doubling each step) or canarySteps (every step's share), not both`,
          { issues: [{ path: ['canarySteps'], message: 'give canary or canarySteps, not both' }] },
        );
      const version = await models.version(
        actor,
        request.model,
        request.version,
        request.team ? { team: request.team } : undefined,
      );
      const team = version.team;
      const product = await catalog.requested(request.product);
      if (product.kind !== 'endpoint')
        throw new AppError(
          'invalid_input',
          `product ${product.name} is a ${product.kind}, not an endpoint product`,
          { issues: [{ path: ['product'], message: 'not an endpoint product' }] },
        );
      const name = request.name ?? request.model;
      const resource = `endpoint/${name}`;
      // The deploy rules are Cedar policies (policies/deploy.cedar); this gathers their facts and asks.
      const subject: DeploySubject = {
        name,
        model: request.model,
        version,
        product,
        gpus: request.gpus,
        budget: await db.transaction().execute((trx) => readBudget(store, trx, team, clock.now())),
        exceptions: await activeExceptions(db, team, clock.now()),
      };
      const decision = checkPolicy(deps.authorizer, deployRequest(actor, subject));
      const refusal = deployRefusal(decision, subject);
      if (refusal) {
        await refuse(
          actor,
          resource,
          team,
          refusal.code,
          refusal.rule,
          refusal.message,
          decision.policySetDigest,
        );
      }
      const runtime = runtimes[version.runtime];
      if (!runtime)
        throw new AppError(
          'invalid_input',
          `runtime ${version.runtime} is unknown; known: ${Object.keys(runtimes).join(', ')}`,
        );
      if (!runtime.runsHere)
        throw new AppError(
          'unavailable',
          `runtime ${version.runtime} cannot run on this machine (its binaries and GPUs are not here); its command template is documented in examples/README.md`,
        );
      const minReplicas = request.scaleToZero ? 0 : request.minReplicas;
      if (request.maxReplicas < Math.max(minReplicas, 1))
        throw new AppError('invalid_input', 'maxReplicas must be at least minReplicas (and 1)', {
          issues: [{ path: ['maxReplicas'], message: 'too small' }],
        });
      const idleTimeout = request.idleTimeout
        ? parseDuration(request.idleTimeout, 'idleTimeout')
        : (product.idleDurationSeconds ?? 900);
      const gpuType = request.gpus > 0 ? (request.gpuType ?? product.gpu.types[0] ?? null) : null;
      const row: EndpointRow = {
        id: newId('ep'),
        name,
        team,
        model_id: (
          await db
            .selectFrom('models')
            .select('id')
            .where('name', '=', version.model)
            .where('team', '=', team)
            .executeTakeFirstOrThrow()
        ).id,
        model_name: version.model,
        version: version.version,
        runtime: version.runtime,
        artifact_dir: version.artifactDir!,
        product: product.name,
        gpus: request.gpus,
        gpu_type: gpuType,
        min_replicas: minReplicas,
        max_replicas: request.maxReplicas,
        target_concurrency: request.targetConcurrency,
        idle_timeout_s: idleTimeout,
        status: minReplicas === 0 ? 'scaled_to_zero' : 'starting',
        created_by: actor.principal.userName,
        created_at: isoNow(clock),
        deleted_at: null,
        cors_origins: request.corsOrigins?.length ? JSON.stringify(request.corsOrigins) : null,
        canary_of: null,
        // Replicas are on-demand; their rate is fixed here, at deploy, like every workload's at admission.
        rate_micros: hourlyRateMicros(product.prices, { gpus: request.gpus, gpuType, spot: false }),
      };
      const existing = await db
        .selectFrom('endpoints')
        .selectAll()
        .where('name', '=', name)
        .where('status', '!=', 'deleted')
        .where('canary_of', 'is', null)
        .executeTakeFirst();
      // Onto an endpoint of the team that serves another version: a canary rollout beside it.
      if (
        existing &&
        existing.team === team &&
        (existing.version !== row.version || existing.model_id !== row.model_id)
      )
        return view(await startCanary(actor, existing, row, request));
      const rolloutOptions = ROLLOUT_OPTIONS.filter((option) => request[option] !== undefined);
      if (!existing && rolloutOptions.length > 0)
        throw new AppError(
          'invalid_input',
          `${rolloutOptions.join(', ')} apply to a new version deployed onto an endpoint that serves one; ${name} does not exist yet, so deploy without them first`,
          {
            issues: rolloutOptions.map((option) => ({
              path: [option],
              message: 'no endpoint to roll out onto',
            })),
          },
        );
      await db.transaction().execute(async (trx) => {
        if (existing)
          throw new AppError(
            'conflict',
            existing.team === team
              ? `endpoint ${name} already serves ${row.model_name} version ${row.version}; deploy another version to roll it out, or delete it (aicloud endpoints delete ${name})`
              : `an endpoint named ${name} exists; choose another --name or delete it (aicloud endpoints delete ${name})`,
          );
        await trx.deleteFrom('endpoints').where('name', '=', name).where('status', '=', 'deleted').execute();
        await trx.insertInto('endpoints').values(row).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'endpoint.deployed',
          resource: `endpoint/${name}`,
          team,
          outcome: 'allow',
          requestId: actor.requestId,
          details: {
            model: version.model,
            version: version.version,
            scan: version.scanVerdict,
            digest: version.digest,
            minReplicas,
            maxReplicas: request.maxReplicas,
          },
        });
      });
      return view(row);
    },

    async list({ principal }) {
      let query = db
        .selectFrom('endpoints')
        .selectAll()
        .where('status', '!=', 'deleted')
        .where('canary_of', 'is', null)
        .orderBy('name');
      if (!principal.platformAdmin) {
        const teams = [...principal.teams.keys()];
        if (teams.length === 0) return [];
        query = query.where('team', 'in', teams);
      }
      return Promise.all((await query.execute()).map(view));
    },

    async get(actor, name) {
      return view(await visible(actor, name));
    },

    async scale(actor, name, request) {
      const row = await visible(actor, name);
      const min = request.minReplicas ?? row.min_replicas;
      const max = request.maxReplicas ?? row.max_replicas;
      if (max < Math.max(min, 1))
        throw new AppError('invalid_input', 'maxReplicas must be at least minReplicas (and 1)');
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('endpoints')
          .set({ min_replicas: min, max_replicas: max })
          .where('id', '=', row.id)
          .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'endpoint.scaled',
          resource: `endpoint/${name}`,
          team: row.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: { minReplicas: min, maxReplicas: max },
        });
      });
      return view({ ...row, min_replicas: min, max_replicas: max });
    },

    async delete(actor, name) {
      const row = await visible(actor, name);
      const canaries = await db
        .selectFrom('endpoints')
        .select('id')
        .where('canary_of', '=', row.id)
        .where('status', '!=', 'deleted')
        .execute();
      await db.transaction().execute(async (trx) => {
        await moveEndpoint(trx, row.id, 'deleted', { deleted_at: isoNow(clock) });
        // A rollout in progress ends with its endpoint.
        for (const canary of canaries)
          await moveEndpoint(trx, canary.id, 'deleted', { deleted_at: isoNow(clock) });
        await trx
          .updateTable('endpoint_rollouts')
          .set({ status: 'aborted', ended_at: isoNow(clock), waiting: null })
          .where('endpoint_id', '=', row.id)
          .where('status', '=', 'progressing')
          .execute();
        await trx
          .updateTable('endpoint_keys')
          .set({ revoked_at: isoNow(clock) })
          .where('endpoint_id', '=', row.id)
          .where('revoked_at', 'is', null)
          .execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'endpoint.deleted',
          resource: `endpoint/${name}`,
          team: row.team,
          outcome: 'success',
          requestId: actor.requestId,
        });
      });
      const keys = await db
        .selectFrom('endpoint_keys')
        .select('hash')
        .where('endpoint_id', '=', row.id)
        .execute();
      for (const key of keys) deps.onKeyRevoked?.(key.hash);
      await pool.stopAll(row.id, 'endpoint_deleted');
      for (const canary of canaries) await pool.stopAll(canary.id, 'endpoint_deleted');
      deps.onRoutesChanged?.();
      return view({ ...row, status: 'deleted' });
    },

    async createKey(actor, input) {
      const request = CreateKeyRequest.parse(input);
      const endpoint = await visible(actor, request.endpoint);
      const decision = checkPolicy(
        deps.authorizer,
        createKeyRequest(actor, {
          kind: 'endpoint_key',
          id: `endpoint/${endpoint.name}`,
          team: endpoint.team,
        }),
      );
      const hit = refusingHit(decision);
      if (hit) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'endpoint_key.create',
          resource: `endpoint/${endpoint.name}`,
          team: endpoint.team,
          outcome: 'deny',
          requestId: actor.requestId,
          details: { rule: hit.policyId, policySetDigest: decision.policySetDigest },
        });
        throw new AppError('forbidden', hit.reason, { details: { rule: hit.policyId } });
      }
      if (request.maxTokensPerPeriod !== undefined && !request.period) {
        throw new AppError('invalid_input', '--max-tokens-per-period needs --period (e.g. 30d)', {
          issues: [{ path: ['period'], message: 'required with maxTokensPerPeriod' }],
        });
      }
      const secret = `sk-aic-${randomBytes(24).toString('base64url')}`;
      const row: KeyRow = {
        id: newId('key'),
        endpoint_id: endpoint.id,
        team: endpoint.team,
        name: request.name,
        prefix: secret.slice(0, 12),
        hash: hashKey(secret),
        rpm: request.rpm ?? null,
        tpm: request.tpm ?? null,
        max_tokens_per_period: request.maxTokensPerPeriod ?? null,
        period: request.period ?? null,
        created_by: actor.principal.userName,
        created_at: isoNow(clock),
        revoked_at: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('endpoint_keys').values(row).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'endpoint_key.created',
          resource: `endpoint/${endpoint.name}`,
          team: endpoint.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: {
            key: row.id,
            rpm: row.rpm,
            tpm: row.tpm,
            maxTokensPerPeriod: row.max_tokens_per_period,
            period: row.period,
          },
        });
      });
      return { ...toKey(row, endpoint.name), key: secret };
    },

    async listKeys({ principal }, endpointName) {
      let query = db
        .selectFrom('endpoint_keys')
        .innerJoin('endpoints', 'endpoints.id', 'endpoint_keys.endpoint_id')
        .selectAll('endpoint_keys')
        .select('endpoints.name as endpoint_name')
        .orderBy('endpoint_keys.created_at');
      if (!principal.platformAdmin)
        query = query.where('endpoint_keys.team', 'in', [...principal.teams.keys(), '']);
      if (endpointName) query = query.where('endpoints.name', '=', endpointName);
      return (await query.execute()).map((row) => toKey(row, row.endpoint_name));
    },

    async revokeKey(actor, id) {
      const row = await db
        .selectFrom('endpoint_keys')
        .innerJoin('endpoints', 'endpoints.id', 'endpoint_keys.endpoint_id')
        .selectAll('endpoint_keys')
        .select('endpoints.name as endpoint_name')
        .where('endpoint_keys.id', '=', id)
        .executeTakeFirst();
      if (!row || !canSeeTeam(actor.principal, row.team)) throw notFound('key', id);
      if (row.revoked_at) throw new AppError('conflict', `key ${id} was already revoked`);
      const revokedAt = isoNow(clock);
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('endpoint_keys').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'endpoint_key.revoked',
          resource: `endpoint/${row.endpoint_name}`,
          team: row.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: { key: id },
        });
      });
      deps.onKeyRevoked?.(row.hash);
      return toKey({ ...row, revoked_at: revokedAt }, row.endpoint_name);
    },
  };
}
