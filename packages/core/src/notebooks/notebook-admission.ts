import { randomBytes } from 'node:crypto';
import { CreateNotebookRequest, type Product } from '@aicloud/contracts';
import type { Transaction } from 'kysely';
import { readBudget } from '../admission/team-usage.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { CatalogService } from '../catalog/catalog-service.ts';
import type { Clock } from '../clock.ts';
import { formatDuration, parseDuration } from '../duration.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import { formatUsd } from '../money.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { pickFreeGpus } from '../workloads/gpu-ledger.ts';
import { estimateMicros, hourlyRateMicros, unitsOf } from '../workloads/workload-meter.ts';
import { type namespaceSupport, netnsNames } from './notebook-netns.ts';
import { notebookPaths } from './notebook-paths.ts';
import { decide, type NotebookPolicySubject, notebookAdmissionRequest } from './notebook-policy.ts';
import { INITIAL_NOTEBOOK_STATUS } from './notebook-state.ts';

/** What admitting a notebook needs. */
export interface NotebookAdmissionDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  catalog: CatalogService;
  authorizer: Authorizer;
  /** Seals the new notebook's Jupyter token. */
  box: SecretBox;
  dataDir: string;
  /** Whether network namespaces can be made here. */
  namespaceSupport: typeof namespaceSupport;
}

/** A notebook admitted and inserted as `starting`, not launched yet. */
export interface AdmittedNotebook {
  id: string;
  product: Product;
  /** Jupyter's token in the clear (sealed in the row). */
  token: string;
}

/** What the request settled to, before the budget, policy and GPU checks. */
interface NotebookShape {
  product: Product;
  team: string;
  gpus: number;
  gpuType: string | null;
  idleTimeout: number;
  maxLifetime: number;
  egress: 'blocked' | 'allowed';
  name: string | undefined;
}

/** Checks the request against the product and the caller's teams; throws `invalid_input` or `not_found`. */
async function shapeOf(
  catalog: CatalogService,
  actor: Actor,
  parsed: ReturnType<typeof CreateNotebookRequest.parse>,
): Promise<NotebookShape> {
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
  return {
    product,
    team,
    gpus,
    gpuType,
    idleTimeout,
    maxLifetime: product.maxDurationSeconds,
    egress: product.egress === 'blocked' ? 'blocked' : 'allowed',
    name: parsed.name,
  };
}

/** The GPUs of `gpuType` free in the inventory, lowest index first, or a refusal. */
async function allocateGpus(
  trx: Transaction<Database>,
  gpus: number,
  gpuType: string | null,
): Promise<{ indexes: number[] } | { refused: AppError }> {
  if (gpus === 0 || !gpuType) return { indexes: [] };
  const pick = await pickFreeGpus(trx, gpuType, gpus);
  if (!pick.ok) {
    return {
      refused: new AppError(
        'conflict',
        `no free ${gpuType} GPU for a notebook now (${pick.inventory} in the inventory, ${pick.free} free); try later or with --gpus 0`,
      ),
    };
  }
  return { indexes: pick.indexes };
}

/**
 * Validates a create request, checks namespaces, the budget, the policies (`create_notebook`) and free GPUs,
 * and inserts the notebook as `starting` (audited); every refusal is audited and thrown.
 */
export async function admitNotebook(
  deps: NotebookAdmissionDeps,
  actor: Actor,
  request: CreateNotebookRequest,
): Promise<AdmittedNotebook> {
  const { store, audit, clock, box } = deps;
  const shape = await shapeOf(deps.catalog, actor, CreateNotebookRequest.parse(request));
  const { product, team, gpus, gpuType, idleTimeout, maxLifetime, egress } = shape;
  if (egress === 'blocked') {
    const support = deps.namespaceSupport();
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
  // The one price rule, fixed here at admission (notebooks run on demand).
  const placement = { gpus, gpuType, spot: false };
  const rate = hourlyRateMicros(product.prices, placement);
  const units = unitsOf(placement);
  const estimate = estimateMicros(rate, placement, maxLifetime);
  const idleWindowCost = estimateMicros(rate, placement, idleTimeout);
  const id = newId('nb');
  const token = randomBytes(24).toString('hex');
  const now = clock.now();
  const createdAt = new Date(now).toISOString();
  const name = shape.name ?? `notebook-${id.slice(3, 9)}`;
  const subject: NotebookPolicySubject = {
    id,
    team,
    owner: actor.principal.userName,
    product,
    gpus,
    gpuType,
    maxLifetimeSeconds: maxLifetime,
  };
  const refused = await store.db.transaction().execute(async (trx) => {
    const budget = await readBudget(store, trx, team, now);
    if (budget && budget.remainingMicros <= 0) {
      return new AppError(
        'budget_exceeded',
        `team ${team} has spent its budget of ${formatUsd(budget.maxMicros)} for this period (${formatUsd(Math.max(budget.remainingMicros, 0))} left); a notebook costs ${formatUsd(rate * units)}/h — ask a manager to raise it: aicloud budgets set ${team}`,
        { details: { rule: 'budget-exhausted', remaining: budget.remainingMicros / 1_000_000 } },
      );
    }
    const exceptions = await trx
      .selectFrom('policy_exceptions')
      .select('policy_id')
      .where('team', '=', team)
      .where('expires_at', '>', createdAt)
      .execute();
    const decision = decide(
      deps.authorizer,
      notebookAdmissionRequest(actor, 'create_notebook', subject, {
        estimateMicros: idleWindowCost,
        budget,
        exceptions: exceptions.map((row) => row.policy_id),
      }),
    );
    if (decision.outcome === 'deny' || decision.outcome === 'require_approval') {
      const hit = decision.determining[0];
      return new AppError(
        'policy_denied',
        `[${hit?.policyId ?? 'policy'}] ${hit?.reason ?? 'the policies do not allow this notebook'}`,
        { details: { rule: hit?.policyId ?? null, policySetDigest: decision.policySetDigest } },
      );
    }
    const allocated = await allocateGpus(trx, gpus, gpuType);
    if ('refused' in allocated) return allocated.refused;
    const indexes = allocated.indexes;
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
        status: INITIAL_NOTEBOOK_STATUS,
        host: null,
        port: null,
        token_sealed: box.seal(token, `notebook:${id}`),
        netns: egress === 'blocked' ? netnsNames(id).namespace : null,
        work_dir: notebookPaths(deps.dataDir, id).files,
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
    return null;
  });
  if (refused) {
    await audit.record({
      actor: actor.principal.userName,
      action: 'notebook.create',
      resource: `product/${product.name}`,
      team,
      outcome: 'deny',
      requestId: actor.requestId,
      details: { code: refused.code, message: refused.message },
    });
    throw refused;
  }
  return { id, product, token };
}
