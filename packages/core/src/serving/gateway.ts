import type { ServerResponse } from 'node:http';
import { type Selectable, sql } from 'kysely';
import type { Dispatcher } from 'undici';
import { readBudget } from '../admission/team-usage.ts';
import { appendUsage, type UsageEntry } from '../billing/ledger.ts';
import type { Clock } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import { createTelemetry, type Telemetry } from '../telemetry/telemetry.ts';
import { hashKey } from './endpoint-service.ts';
import { allowedOrigin, corsHeaders, preflightHeaders } from './gateway-cors.ts';
import { createGatewayMetrics, type GatewayObservation } from './gateway-metrics.ts';
import { absent, checkContextLength, checkRequestFeatures, countTokens } from './gateway-request-check.ts';
import { OpenAIError } from './openai-error.ts';
import { type ChatAnswer, ResponsesTranslation } from './openai-responses.ts';
import { type Operation, validateOpenAIRequest } from './openai-validation.ts';
import { SlidingWindowLimiter } from './rate-limiter.ts';
import type { ReplicaLease, ReplicaPool } from './replica-pool.ts';
import { PLAIN_CAPABILITIES, type RuntimeCapabilities, type RuntimeTemplate } from './runtimes.ts';
import { callUpstream, type UpstreamCall } from './upstream-call.ts';

type KeyRow = Selectable<Database['endpoint_keys']>;
type EndpointRow = Selectable<Database['endpoints']>;

/**
 * Output tokens a request reserves against its key's period quota when it sets neither `max_tokens` nor
 * `max_completion_tokens`; for a key with a quota, the gateway also sends this cap to the runtime, so that
 * no answer can use more than it reserved.
 */
export const DEFAULT_QUOTA_MAX_TOKENS = 1024;

/** The name of the short-lived keys quality evaluations call endpoints with (quality/internal-caller.ts). */
export const INTERNAL_EVAL_KEY = 'aicloud-eval';

const PATHS: Record<Operation, string> = {
  chat: '/v1/chat/completions',
  text_completion: '/v1/completions',
  embeddings: '/v1/embeddings',
};

/** The OpenAI-compatible data plane: keys, limits, replica routing, streaming, token metering. */
export interface Gateway {
  /** Serves one request, writing the answer to `response`; throws OpenAIError before anything is written. */
  handle(
    operation: Operation,
    authorization: string | undefined,
    body: unknown,
    response: ServerResponse,
    requestId: string,
    /** The browser's `Origin`: answered with CORS headers when the key's endpoint allows it. */
    origin?: string,
  ): Promise<void>;
  /**
   * `POST /v1/responses` (a subset of OpenAI's Responses API): translated to the chat completion request
   * that answers it and served as one, answered as a Response object (or its SSE events); throws
   * OpenAIError before anything is written.
   */
  handleResponses(
    authorization: string | undefined,
    body: unknown,
    response: ServerResponse,
    requestId: string,
    origin?: string,
  ): Promise<void>;
  /** `GET /v1/models` for a key: the endpoint it may call. */
  listModels(authorization: string | undefined): Promise<unknown>;
  /** `GET /v1/models/{id}` for a key: its endpoint, else OpenAI's 404 `model_not_found`. */
  retrieveModel(authorization: string | undefined, id: string): Promise<unknown>;
  /** Authenticates a key (OpenAI's 401 otherwise); the CORS headers its endpoint allows `origin`, if any. */
  authenticateKey(authorization: string | undefined, origin?: string): Promise<Record<string, string>>;
  /**
   * The answer to a CORS preflight (which carries no key): its headers when some live endpoint allows
   * `origin`, else null.
   */
  preflight(origin: string, requestHeaders: string | undefined): Promise<Record<string, string> | null>;
  forgetKey(hash: string): void;
  /** What decides with this process's state: gateway workers (gateway-workers.ts) are admitted through it. */
  admission: GatewayAdmission;
  /** Calls `listener` whenever cached keys or routes go stale; returns how to stop. */
  onForget(listener: () => void): () => void;
  /** Drops the canary routes and endpoint rows it holds, so a rollout's new weight, end or promoted version applies to the next request. */
  forgetRoutes(): void;
  /** Counts tokens a key spent at an external provider (providers/provider-gateway.ts) against its period quota. */
  countExternalUsage(keyId: string, tokens: number): void;
  /** Writes accumulated token usage into the ledger. */
  flush(): Promise<void>;
  metrics: ReturnType<typeof createGatewayMetrics>;
  close(): Promise<void>;
}

interface PendingUsage {
  team: string;
  user: string;
  endpointId: string;
  endpointName: string;
  keyId: string;
  tokensIn: number;
  tokensOut: number;
  since: number;
}

/** A key as the gateway serves it: its row, its endpoint's, and what the endpoint's runtime can do. */
export interface KeyEntry {
  key: KeyRow;
  endpoint: EndpointRow;
  capabilities: RuntimeCapabilities;
}

/** What a request asks of its key's limits, once it is known to be well-formed. */
export interface AdmitRequest {
  /** The SHA-256 of the key it was sent with. */
  hash: string;
  /** The most tokens it may use (its prompt's estimate and its output cap). */
  tokens: number;
  /** Whether it set no output cap: a key with a quota then sends the default one to the runtime. */
  injectCap: boolean;
  /** Its prompt's estimate: what a request whose end is never known (its worker died) is billed. */
  promptTokens: number;
}

/** How an admitted request ended. */
export interface TicketOutcome {
  ok: boolean;
  latencyMs: number;
  firstTokenMs: number | null;
  tokensIn: number;
  tokensOut: number;
  /** The client went away before the end (the upstream request was cancelled). */
  aborted: boolean;
  /** An embeddings answer's `data`, for the endpoint's embedding drift (endpoint-stats.ts). */
  embeddings?: unknown;
}

/** An admitted request's hold on its limits and on a replica: where to forward it, and how to settle it. */
export interface Ticket {
  /** The replica's unix socket; `dispatcher` connects to it. */
  socket: string;
  origin: string;
  dispatcher: Dispatcher;
  /** The version that answers (a canary's, for its share of the traffic). */
  version: number;
  coldStartMs: number | null;
  /** Releases the replica and the reservation, and counts what was used; once. */
  settle(outcome: TicketOutcome): void;
}

/**
 * What a gateway decides with the platform's state: keys, rate limits, budgets, quota reservations, canary
 * routes, replicas, metering and metrics. In one process it is the gateway's own; a gateway worker
 * (gateway-workers.ts) asks the primary's over IPC, so that every limit holds across workers.
 */
export interface GatewayAdmission {
  /** A key by its hash (OpenAI's 401 when unknown, revoked or its endpoint deleted). */
  lookup(hash: string): Promise<KeyEntry>;
  /** Admits a request: rate limits, budget, quota reservation, route and replica; OpenAIError otherwise. */
  admit(request: AdmitRequest): Promise<Ticket>;
  /** Starts observing a request for the GenAI metrics and span. */
  observe(operation: Operation, response: ServerResponse): GatewayObservation;
}

/** Creates the gateway. */
export function createGateway(deps: {
  store: Store;
  clock: Clock;
  pool: ReplicaPool;
  /** The runtimes endpoints run, for their capabilities; a runtime not here serves plain completions. */
  runtimes?: Record<string, RuntimeTemplate>;
  /** Where the GenAI metrics and spans go (default: its own, Prometheus only); `enabled: false` records nothing. */
  telemetry?: Telemetry;
}): Gateway {
  const { store, clock, pool } = deps;
  const runtimes = deps.runtimes ?? {};
  const capabilitiesOf = (endpoint: EndpointRow): RuntimeCapabilities =>
    runtimes[endpoint.runtime]?.capabilities ?? PLAIN_CAPABILITIES;
  let corsOrigins: { origins: Set<string>; at: number } | null = null;
  const db = store.db;
  const limiter = new SlidingWindowLimiter(() => clock.now());
  const metrics = createGatewayMetrics(deps.telemetry ?? createTelemetry());
  const keys = new Map<string, KeyEntry & { loadedAt: number }>();
  const periodUse = new Map<string, { start: number; used: number }>();
  const budgets = new Map<string, { exhausted: boolean; at: number }>();
  const pending = new Map<string, PendingUsage>();
  /** Tokens reserved by requests in flight, per key with a period quota; settled to actual usage at the end. */
  const reserved = new Map<string, number>();
  /** Progressing canaries by their stable endpoint's id, with their share of traffic; reloaded every 2 s. */
  let canaries: { byStable: Map<string, { row: EndpointRow; weight: number }>; at: number } | null = null;
  /** Told when cached keys or routes go stale (gateway workers drop theirs). */
  const forgetListeners = new Set<() => void>();

  /** The endpoint row that serves this request: a progressing canary takes its weight's share. */
  async function routeOf(endpoint: EndpointRow): Promise<EndpointRow> {
    if (!canaries || clock.now() - canaries.at > 2000) {
      const rows = await db
        .selectFrom('endpoint_rollouts')
        .innerJoin('endpoints', 'endpoints.id', 'endpoint_rollouts.canary_id')
        .selectAll('endpoints')
        .select(['endpoint_rollouts.steps as rollout_steps', 'endpoint_rollouts.step as rollout_step'])
        .where('endpoint_rollouts.status', '=', 'progressing')
        .where('endpoints.status', '!=', 'deleted')
        .execute();
      const byStable = new Map<string, { row: EndpointRow; weight: number }>();
      for (const { rollout_steps, rollout_step, ...row } of rows)
        if (row.canary_of)
          byStable.set(row.canary_of, {
            row,
            weight: (JSON.parse(rollout_steps) as number[])[rollout_step] ?? 0,
          });
      canaries = { byStable, at: clock.now() };
    }
    const canary = canaries.byStable.get(endpoint.id);
    return canary && Math.random() * 100 < canary.weight ? canary.row : endpoint;
  }

  /** A key's entry loaded in the last 2 s: endpoint settings (replicas, status) change, so no older. */
  function cachedKey(hash: string): KeyEntry | undefined {
    const cached = keys.get(hash);
    return cached && clock.now() - cached.loadedAt < 2000 ? cached : undefined;
  }

  async function lookup(hash: string): Promise<KeyEntry> {
    const cached = cachedKey(hash);
    if (cached) return cached;
    const key = await db.selectFrom('endpoint_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
    if (!key || key.revoked_at) throw invalidKey();
    const endpoint = await db
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', key.endpoint_id)
      .executeTakeFirst();
    if (!endpoint || endpoint.status === 'deleted') throw invalidKey();
    const entry = { key, endpoint, capabilities: capabilitiesOf(endpoint), loadedAt: clock.now() };
    keys.set(hash, entry);
    return entry;
  }

  /** A key's period length and creation time in ms, parsed once per key row (not on every request). */
  const periods = new WeakMap<KeyRow, { length: number; created: number }>();
  function periodOf(key: KeyRow): { length: number; created: number } {
    let period = periods.get(key);
    if (!period) {
      period = {
        length: parseDuration(key.period ?? '30d', 'period') * 1000,
        created: Date.parse(key.created_at),
      };
      periods.set(key, period);
    }
    return period;
  }

  /** The key's current period: when it started and when it ends (ms). */
  function currentPeriod(key: KeyRow): { start: number; end: number } {
    const { length, created } = periodOf(key);
    const start = created + Math.floor((clock.now() - created) / length) * length;
    return { start, end: start + length };
  }

  /** The key's use of its current period, if known (loaded once per period, then counted here). */
  function periodCached(key: KeyRow): { used: number; end: number } | undefined {
    const { start, end } = currentPeriod(key);
    const entry = periodUse.get(key.id);
    return entry && entry.start === start ? { used: entry.used, end } : undefined;
  }

  async function periodUsed(key: KeyRow): Promise<{ used: number; end: number }> {
    const { start, end } = currentPeriod(key);
    let entry = periodUse.get(key.id);
    if (!entry || entry.start !== start) {
      const row = await db
        .selectFrom('usage_ledger')
        // Tokens to external providers are recorded per million (priced per million): they count too.
        .select(
          sql<number>`sum(case when unit = 'million_tokens' then quantity * 1000000 else quantity end)`.as(
            'tokens',
          ),
        )
        .where('project', '=', key.id)
        .where('unit', 'in', ['token', 'million_tokens'])
        .where('window_start', '>=', new Date(start).toISOString())
        .executeTakeFirst();
      const unflushed = pending.get(key.id);
      const current = periodUse.get(key.id);
      // A concurrent load of the same period got there first and may have counted usage since: keep it.
      if (current && current.start === start) entry = current;
      else {
        entry = {
          start,
          used: Number(row?.tokens ?? 0) + (unflushed ? unflushed.tokensIn + unflushed.tokensOut : 0),
        };
        periodUse.set(key.id, entry);
      }
    }
    return { used: entry.used, end };
  }

  /** Whether the team's budget is exhausted, if known from the last 5 s. */
  function budgetCached(team: string): boolean | undefined {
    const cached = budgets.get(team);
    return cached && clock.now() - cached.at < 5000 ? cached.exhausted : undefined;
  }

  async function budgetExhausted(team: string): Promise<boolean> {
    const cached = budgetCached(team);
    if (cached !== undefined) return cached;
    const state = await db.transaction().execute((trx) => readBudget(store, trx, team, clock.now()));
    const exhausted = state !== null && state.remainingMicros <= 0;
    budgets.set(team, { exhausted, at: clock.now() });
    return exhausted;
  }

  function account(key: KeyRow, endpoint: EndpointRow, tokensIn: number, tokensOut: number): void {
    const entry = pending.get(key.id) ?? {
      team: endpoint.team,
      user: key.created_by,
      endpointId: endpoint.id,
      endpointName: endpoint.name,
      keyId: key.id,
      tokensIn: 0,
      tokensOut: 0,
      since: clock.now(),
    };
    entry.tokensIn += tokensIn;
    entry.tokensOut += tokensOut;
    pending.set(key.id, entry);
    const period = periodUse.get(key.id);
    if (period) period.used += tokensIn + tokensOut;
  }

  /**
   * Checks a request against its key's rate limits, its team's budget and its key's period quota, and
   * reserves its most tokens against the quota; OpenAIError (429) otherwise. The budget and the period's use
   * are read before (`budgetGone`, `period`): from the first check to the reservation nothing awaits (this is
   * synchronous), so concurrent requests (from this process or from gateway workers) cannot all pass the same
   * check.
   */
  function checkLimits(
    key: KeyRow,
    endpoint: EndpointRow,
    request: AdmitRequest,
    budgetGone: boolean,
    period: { used: number; end: number } | null,
  ) {
    const quota = key.max_tokens_per_period;
    const requestWait = limiter.requestWait(key.id, key.rpm);
    if (requestWait > 0)
      throw new OpenAIError(
        429,
        `Rate limit reached for ${endpoint.name} on requests per min (RPM): Limit ${key.rpm}. Please try again in ${requestWait}s.`,
        'requests',
        'rate_limit_exceeded',
        null,
        Math.min(requestWait, 60),
      );
    const tokenWait = limiter.tokenWait(key.id, key.tpm);
    if (tokenWait > 0)
      throw new OpenAIError(
        429,
        `Rate limit reached for ${endpoint.name} on tokens per min (TPM): Limit ${key.tpm}. Please try again in ${tokenWait}s.`,
        'tokens',
        'rate_limit_exceeded',
        null,
        Math.min(tokenWait, 60),
      );
    if (budgetGone) {
      // Waiting does not help until a manager raises the budget: the SDKs must not retry.
      throw new OpenAIError(
        429,
        `The budget of team ${endpoint.team} is exhausted; a manager can raise it: aicloud budgets set --team ${endpoint.team} --max-budget <usd>`,
        'insufficient_quota',
        'insufficient_quota',
        null,
        null,
        false,
      );
    }
    // Last: nothing may refuse the request once its tokens are reserved.
    const release = quota === null || !period ? () => {} : reserveQuota(key, endpoint, request, period.end);
    return { release, hit: limiter.hit(key.id) };
  }

  /**
   * Reserves a request's most tokens against its key's period quota, or refuses it (429) before it runs:
   * `x-should-retry: false` when the period's remaining quota cannot hold it, retryable when only the
   * reservations of requests in flight are in the way. The reservation is settled to actual usage at the end.
   */
  function reserveQuota(key: KeyRow, endpoint: EndpointRow, request: AdmitRequest, end: number): () => void {
    const quota = key.max_tokens_per_period ?? 0;
    const used = periodUse.get(key.id)?.used ?? 0;
    const inFlight = reserved.get(key.id) ?? 0;
    const { tokens, injectCap } = request;
    // The refusals' texts are built only for a refusal: most requests pass.
    if (used + tokens > quota) {
      const renew = `it renews at ${new Date(end).toISOString()}`;
      const hint = `Ask for a new quota: aicloud keys create --endpoint ${endpoint.name} --max-tokens-per-period N --period ${key.period}`;
      const left = Math.max(0, quota - used);
      throw new OpenAIError(
        429,
        left === 0
          ? `This key used its quota of ${quota} tokens per ${key.period}; ${renew}. ${hint}`
          : `This request may use up to ${tokens} tokens${capNote(injectCap)}, more than the ${left} left of this key's quota of ${quota} tokens per ${key.period}; lower max_tokens, or wait: ${renew}. ${hint}`,
        'insufficient_quota',
        'insufficient_quota',
        null,
        // The quota renews at the period's end (days away): no Retry-After, and no retry.
        null,
        false,
      );
    }
    if (used + inFlight + tokens > quota) {
      throw new OpenAIError(
        429,
        `This request may use up to ${tokens} tokens${capNote(injectCap)}; with the ${inFlight} reserved by requests in flight it would exceed this key's quota of ${quota} tokens per ${key.period} (${quota - used} left). Try again when they finish.`,
        'insufficient_quota',
        'insufficient_quota',
        null,
        1,
      );
    }
    reserved.set(key.id, inFlight + tokens);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (reserved.get(key.id) ?? 0) - tokens;
      if (left > 0) reserved.set(key.id, left);
      else reserved.delete(key.id);
    };
  }

  const admission: GatewayAdmission = {
    lookup,
    observe: (operation, response) => metrics.begin(operation, response),

    async admit(request) {
      const began = performance.now();
      // Looked up by the request path a moment ago: no await for what is known.
      const { key, endpoint } = cachedKey(request.hash) ?? (await lookup(request.hash));
      // Both are cached (5 s, the period): read without an await when they are, as nearly always.
      const budgetGone = budgetCached(endpoint.team) ?? (await budgetExhausted(endpoint.team));
      const period =
        key.max_tokens_per_period === null ? null : (periodCached(key) ?? (await periodUsed(key)));
      const { release, hit } = checkLimits(key, endpoint, request, budgetGone, period);
      // The version that answers: the serving one, or a canary for its share of the traffic. A quality
      // evaluation's internal key scores the version of the row it was made for, never a split.
      const pinned = key.created_by === 'system' && key.name === INTERNAL_EVAL_KEY;
      const target = pinned ? endpoint : await routeOf(endpoint);
      const recorder = pool.stats(target.id);
      let lease: ReplicaLease;
      try {
        lease = await pool.acquire(target);
      } catch (error) {
        release();
        recorder.record({
          ok: false,
          latencyMs: performance.now() - began,
          firstTokenMs: null,
          tokensIn: 0,
          tokensOut: 0,
          at: pinned ? undefined : clock.now(),
        });
        throw new OpenAIError(
          503,
          `${(error as Error).message}; try again shortly`,
          'server_error',
          'replica_unavailable',
          null,
          30,
        );
      }
      if (lease.coldStartMs !== null) metrics.coldStarts.inc({ endpoint: endpoint.name });
      let settled = false;
      return {
        socket: lease.socket,
        origin: lease.origin,
        dispatcher: lease.dispatcher,
        version: target.version,
        coldStartMs: lease.coldStartMs,
        settle(outcome) {
          if (settled) return;
          settled = true;
          lease.release();
          const { tokensIn, tokensOut } = outcome;
          hit.addTokens(tokensIn + tokensOut);
          // Settle: the reservation goes, the actual usage counts.
          if (tokensIn + tokensOut > 0) account(key, endpoint, tokensIn, tokensOut);
          release();
          if (outcome.aborted) metrics.clientAborts.inc({ endpoint: endpoint.name });
          recorder.record({
            ok: outcome.ok,
            latencyMs: outcome.latencyMs,
            firstTokenMs: outcome.firstTokenMs,
            tokensIn,
            tokensOut,
            // A quality evaluation's requests are not live traffic: a canary's analysis window leaves them out.
            at: pinned ? undefined : clock.now(),
            embeddings: outcome.embeddings,
          });
        },
      };
    },
  };

  const front = createGatewayFront(admission, clock);
  const authenticate = (authorization: string | undefined) => front.authenticate(authorization);
  const forget = () => {
    for (const listener of forgetListeners) listener();
  };

  const modelObject = (endpoint: EndpointRow) => ({
    id: endpoint.name,
    object: 'model',
    created: Math.floor(Date.parse(endpoint.created_at) / 1000),
    owned_by: endpoint.team,
  });

  return {
    metrics,

    async listModels(authorization) {
      const { endpoint } = await authenticate(authorization);
      return { object: 'list', data: [modelObject(endpoint)] };
    },

    async retrieveModel(authorization, id) {
      const { endpoint } = await authenticate(authorization);
      if (id !== endpoint.name) throw modelNotFound(id);
      return modelObject(endpoint);
    },

    async authenticateKey(authorization, origin) {
      const { endpoint } = await authenticate(authorization);
      return origin && allowedOrigin(endpoint, origin) ? corsHeaders(origin) : {};
    },

    async preflight(origin, requestHeaders) {
      if (!corsOrigins || clock.now() - corsOrigins.at > 2000) {
        const rows = await db
          .selectFrom('endpoints')
          .select('cors_origins')
          .where('status', '!=', 'deleted')
          .where('cors_origins', 'is not', null)
          .execute();
        const origins = new Set<string>();
        for (const row of rows)
          for (const allowed of JSON.parse(row.cors_origins ?? '[]') as string[]) origins.add(allowed);
        corsOrigins = { origins, at: clock.now() };
      }
      return corsOrigins.origins.has(origin) || corsOrigins.origins.has('*')
        ? preflightHeaders(origin, requestHeaders)
        : null;
    },

    admission,
    handle: front.handle,
    handleResponses: front.handleResponses,

    onForget(listener) {
      forgetListeners.add(listener);
      return () => forgetListeners.delete(listener);
    },

    forgetKey(hash) {
      keys.delete(hash);
      forget();
    },

    forgetRoutes() {
      canaries = null;
      // Keys hold their endpoint's row, whose version a promotion changes.
      keys.clear();
      forget();
    },

    countExternalUsage(keyId, tokens) {
      const period = periodUse.get(keyId);
      if (period) period.used += tokens;
    },

    async flush() {
      if (pending.size === 0) return;
      const now = clock.now();
      const entries = [...pending.values()];
      pending.clear();
      const rows: UsageEntry[] = entries.flatMap((entry) => {
        const base = {
          team: entry.team,
          user: entry.user,
          project: entry.keyId,
          category: 'inference' as const,
          unit: 'token',
          rateMicros: 0,
          sourceKind: 'endpoint' as const,
          sourceId: entry.endpointId,
          windowStart: new Date(entry.since).toISOString(),
          windowEnd: new Date(now).toISOString(),
        };
        return [
          ...(entry.tokensIn > 0
            ? [{ ...base, resource: `tokens_in:${entry.endpointName}`, quantity: entry.tokensIn }]
            : []),
          ...(entry.tokensOut > 0
            ? [{ ...base, resource: `tokens_out:${entry.endpointName}`, quantity: entry.tokensOut }]
            : []),
        ];
      });
      await db.transaction().execute((trx) => appendUsage(trx, clock, rows));
    },

    async close() {
      // Replicas' connection pools belong to the replica pool, which closes them with the replicas.
    },
  };
}

/**
 * The gateway's request path: validates a request against its key's endpoint, has `admission` admit it,
 * forwards it to the replica and streams the answer back (the primary's gateway, and each gateway worker's).
 */
export function createGatewayFront(admission: GatewayAdmission, clock: Clock) {
  /** Key → its hash, for keys seen lately (bounded); this process holds the keys it serves anyway. */
  const hashes = new Map<string, string>();

  async function authenticate(authorization: string | undefined): Promise<KeyEntry & { hash: string }> {
    const secret = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!secret)
      throw new OpenAIError(
        401,
        "You didn't provide an API key: send 'Authorization: Bearer <key>'.",
        'invalid_request_error',
        'invalid_api_key',
      );
    // SHA-256 of the same few keys on every request is measurable at line rate (bench:gateway): remembered.
    let hash = hashes.get(secret);
    if (hash === undefined) {
      hash = hashKey(secret);
      if (hashes.size >= 10_000) hashes.clear();
      hashes.set(secret, hash);
    }
    return { ...(await admission.lookup(hash)), hash };
  }

  /** Everything checked before a request may count against its key; the admitted request's ticket. */
  async function admit(
    operation: Operation,
    authorization: string | undefined,
    body: unknown,
    response: ServerResponse,
    origin: string | undefined,
    observation: GatewayObservation,
    translate: ((body: unknown) => ResponsesTranslation) | undefined,
  ) {
    const { key, endpoint, capabilities, hash } = await authenticate(authorization);
    // From here on a browser the endpoint allows may read the answer, refusals included.
    if (origin && allowedOrigin(endpoint, origin))
      for (const [name, value] of Object.entries(corsHeaders(origin))) response.setHeader(name, value);
    // A Responses API request: from here on, the chat completion request that answers it.
    const translation = translate?.(body);
    if (translation) body = translation.chat;
    const { model, promptText, stream } = validateOpenAIRequest(operation, body);
    if (model !== endpoint.name) throw modelNotFound(model);
    observation.requestModel(endpoint.name);
    // Before any limit counts it: a request the runtime cannot serve as asked is refused, never degraded.
    checkRequestFeatures(operation, body, capabilities, endpoint.runtime);
    checkContextLength(operation, body, promptText, capabilities.contextLength);
    const need = tokensNeeded(operation, body, promptText);
    const ticket = await admission.admit({
      hash,
      tokens: need.tokens,
      injectCap: need.injectCap,
      promptTokens: need.prompt,
    });
    // A key with a quota: the answer may not use more than was reserved.
    const injectCap = need.injectCap && key.max_tokens_per_period !== null;
    return { body, promptText, stream, translation, ticket, injectCap };
  }

  /** Serves one request (see `Gateway.handle`); `translate` makes a Responses API request its chat request. */
  async function serve(
    operation: Operation,
    authorization: string | undefined,
    body: unknown,
    response: ServerResponse,
    requestId: string,
    origin: string | undefined,
    translate: ((body: unknown) => ResponsesTranslation) | undefined,
  ): Promise<void> {
    const started = performance.now();
    const observation = admission.observe(operation, response);
    let admitted: Awaited<ReturnType<typeof admit>>;
    try {
      admitted = await admit(operation, authorization, body, response, origin, observation, translate);
    } catch (error) {
      // A refusal is counted too, with the client's error code (never an upstream one).
      observation.end({ tokensIn: 0, tokensOut: 0, errorType: refusalType(error), streamed: false });
      throw error;
    }
    const { promptText, stream, translation, ticket } = admitted;
    const forwarded = admitted.injectCap
      ? { ...(admitted.body as Record<string, unknown>), max_tokens: DEFAULT_QUOTA_MAX_TOKENS }
      : admitted.body;
    let tokensIn = 0;
    let tokensOut = 0;
    let firstTokenMs: number | null = null;
    let ok = false;
    let errorType: string | undefined;
    /** An embeddings answer's `data`, for the endpoint's embedding drift (endpoint-stats.ts). */
    let embeddings: unknown;
    let delivered = { text: '', deltas: 0 };
    // A client that goes away cancels the upstream request: the replica stops generating, and only
    // what was delivered is metered.
    let clientLeft = false;
    let call: UpstreamCall | undefined;
    const onClose = () => {
      if (response.writableFinished || clientLeft) return;
      clientLeft = true;
      call?.abort(new Error('the client closed the connection'));
    };
    try {
      observation.upstreamStarted();
      const traceparent = observation.traceparent();
      // The ticket's own dispatcher: no URL to parse, no global dispatcher lookup, per request.
      call = callUpstream(ticket.dispatcher, {
        origin: ticket.origin,
        path: PATHS[operation],
        headers: {
          'content-type': 'application/json',
          'x-request-id': requestId,
          ...(traceparent ? { traceparent } : {}),
        },
        // Serialized again, never the client's bytes: the replica reads exactly what was checked and reserved
        // for (a duplicated key or an odd escape cannot mean one thing here and another there).
        body: JSON.stringify(forwarded),
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
      });
      response.once('close', onClose);
      // Gone already (while a replica started): its close event has passed.
      if (gone(response)) onClose();
      const upstream = await call.answer;
      const headers: Record<string, string> = {
        'content-type': String(upstream.headers['content-type'] ?? 'application/json'),
        'x-request-id': requestId,
        'x-aicloud-model-version': String(ticket.version),
      };
      if (ticket.coldStartMs !== null)
        headers['x-aicloud-cold-start-ms'] = String(Math.round(ticket.coldStartMs));
      if (stream && upstream.statusCode === 200) {
        headers['cache-control'] = 'no-cache';
        if (translation) headers['content-type'] = 'text/event-stream; charset=utf-8';
        response.writeHead(200, headers);
        if (translation) response.write(translation.open());
        let buffered = '';
        const seen: { usage: { prompt_tokens?: number; completion_tokens?: number } | null } = {
          usage: null,
        };
        let responseModel = false;
        for (let chunk = await upstream.next(); chunk !== null; chunk = await upstream.next()) {
          if (clientLeft) break;
          // Backpressure: read on from the replica only as fast as the client takes the answer.
          if (!translation && !response.write(chunk)) await drained(response);
          buffered += chunk.toString('utf8');
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line.startsWith('data: {')) {
              try {
                const event = JSON.parse(line.slice(6)) as {
                  model?: unknown;
                  usage?: typeof seen.usage;
                  choices?: {
                    delta?: { content?: string; tool_calls?: { function?: { arguments?: string } }[] };
                    text?: string;
                  }[];
                };
                if (event.usage) seen.usage = event.usage;
                translation?.chunk(event);
                if (!responseModel && typeof event.model === 'string') {
                  responseModel = true;
                  observation.responseModel(event.model);
                }
                for (const choice of event.choices ?? []) {
                  let text = choice.delta?.content ?? choice.text ?? '';
                  for (const call of choice.delta?.tool_calls ?? []) text += call.function?.arguments ?? '';
                  if (!text) continue;
                  // Time to first token ends at the first content, not at the role-only chunk before it.
                  if (firstTokenMs === null) {
                    firstTokenMs = performance.now() - started;
                    observation.firstToken();
                  }
                  delivered = { text: delivered.text + text, deltas: delivered.deltas + 1 };
                }
              } catch {
                // Not JSON: pass it through untouched.
              }
            }
            newline = buffered.indexOf('\n');
          }
          if (translation) {
            const events = translation.take();
            if (events && !response.write(events)) await drained(response);
          }
        }
        if (clientLeft) throw new Error('the client closed the connection');
        if (!translation) response.end();
        tokensIn = seen.usage?.prompt_tokens ?? countTokens(promptText);
        tokensOut = seen.usage?.completion_tokens ?? deliveredTokens(delivered);
        // The Response's last event carries the usage metered.
        if (translation) response.end(translation.finish(tokensIn, tokensOut, clock.now()));
        ok = true;
      } else if (translation && upstream.statusCode === 200) {
        // A Response object, made of the chat completion, with the usage metered.
        const answer = JSON.parse(await upstream.text()) as ChatAnswer;
        firstTokenMs = performance.now() - started;
        if (typeof answer.model === 'string') observation.responseModel(answer.model);
        tokensIn = answer.usage?.prompt_tokens ?? countTokens(promptText);
        tokensOut = answer.usage?.completion_tokens ?? 0;
        const text = translation.complete(answer, tokensIn, tokensOut, clock.now());
        response.writeHead(200, headers);
        response.end(text);
        ok = true;
      } else {
        const text = await upstream.text();
        firstTokenMs = performance.now() - started;
        response.writeHead(upstream.statusCode, headers);
        response.end(text);
        ok = upstream.statusCode < 400;
        if (ok) {
          try {
            const parsed = JSON.parse(text) as {
              model?: unknown;
              usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
              data?: unknown;
            };
            if (operation === 'embeddings') embeddings = parsed.data;
            if (typeof parsed.model === 'string') observation.responseModel(parsed.model);
            tokensIn = parsed.usage?.prompt_tokens ?? countTokens(promptText);
            tokensOut = parsed.usage?.completion_tokens ?? 0;
          } catch {
            tokensIn = countTokens(promptText);
          }
        } else errorType = upstreamErrorType(upstream.statusCode, text);
      }
    } catch (error) {
      if (clientLeft) {
        // The client left: the prompt was read, and only the output it received is billed.
        tokensIn = countTokens(promptText);
        tokensOut = deliveredTokens(delivered);
        return;
      }
      errorType = isTimeout(error) ? 'timeout' : 'upstream_error';
      if (!response.headersSent)
        throw new OpenAIError(
          502,
          `the model server failed: ${(error as Error).message}`,
          'server_error',
          'upstream_error',
        );
      // Mid-stream failure: tell the client in the stream, as OpenAI does.
      response.end(
        translation
          ? translation.fail('the model server failed mid-stream')
          : `data: ${JSON.stringify(new OpenAIError(502, 'the model server failed mid-stream', 'server_error', 'upstream_error').body())}\n\n`,
      );
    } finally {
      response.off('close', onClose);
      const latencyMs = performance.now() - started;
      ticket.settle({
        ok,
        latencyMs,
        firstTokenMs: stream ? firstTokenMs : null,
        tokensIn,
        tokensOut,
        aborted: clientLeft,
        embeddings,
      });
      observation.end({
        tokensIn,
        tokensOut,
        errorType: ok ? undefined : clientLeft ? 'client_abort' : (errorType ?? 'upstream_error'),
        streamed: stream,
      });
    }
  }

  const front: Pick<Gateway, 'handle' | 'handleResponses'> & { authenticate: typeof authenticate } = {
    authenticate,
    handle(operation, authorization, body, response, requestId, origin) {
      return serve(operation, authorization, body, response, requestId, origin, undefined);
    },

    async handleResponses(authorization, body, response, requestId, origin) {
      const translated: { translation?: ResponsesTranslation } = {};
      try {
        await serve('chat', authorization, body, response, requestId, origin, (request) => {
          translated.translation = new ResponsesTranslation(request, clock.now());
          return translated.translation;
        });
      } catch (error) {
        // The chat path's refusals name chat's parameters: named again as the client sent them.
        throw translated.translation ? translated.translation.rename(error) : error;
      }
    },
  };
  return front;
}

/** A quota refusal's note on the output cap the gateway reserved for a request that gave none. */
function capNote(injectCap: boolean): string {
  return injectCap ? ` (no max_tokens given: ${DEFAULT_QUOTA_MAX_TOKENS} are reserved)` : '';
}

/** What a request may use at most: its prompt's estimate plus its output cap (× n choices). */
function tokensNeeded(operation: Operation, body: unknown, promptText: string) {
  const request = body as Record<string, unknown>;
  const prompt = countTokens(promptText);
  if (operation === 'embeddings') return { tokens: prompt, injectCap: false, prompt };
  const cap = absent(request.max_completion_tokens) ? request.max_tokens : request.max_completion_tokens;
  // A malformed cap is the runtime's to refuse (400); it reserves the default meanwhile.
  const given = typeof cap === 'number' && Number.isInteger(cap) && cap > 0 ? cap : undefined;
  const n = typeof request.n === 'number' && Number.isInteger(request.n) && request.n > 1 ? request.n : 1;
  const injectCap = absent(request.max_completion_tokens) && absent(request.max_tokens);
  return { tokens: prompt + (given ?? DEFAULT_QUOTA_MAX_TOKENS) * n, injectCap, prompt };
}

/** OpenAI's 401 for a key that is unknown, revoked or whose endpoint is gone. */
function invalidKey(): OpenAIError {
  // Built only when needed: an Error captures a stack trace, too costly for every request.
  return new OpenAIError(
    401,
    'Incorrect API key provided. Create one with: aicloud keys create --endpoint NAME',
    'invalid_request_error',
    'invalid_api_key',
  );
}

function modelNotFound(model: string): OpenAIError {
  return new OpenAIError(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    'invalid_request_error',
    'model_not_found',
    'model',
  );
}

/**
 * `error.type` of a request the gateway refused: the OpenAI error code the client got (`invalid_api_key`,
 * `model_not_found`, `rate_limit_exceeded`, `insufficient_quota`, …), else its type; `_OTHER` for a failure
 * that was not the client's.
 */
function refusalType(error: unknown): string {
  return error instanceof OpenAIError ? (error.code ?? error.type) : '_OTHER';
}

/**
 * `error.type` of a model server's error answer: a client's mistake (4xx) keeps the server's OpenAI error
 * code (or type, or status), so that it is never counted as `upstream_error`; a 5xx is `upstream_error`.
 */
function upstreamErrorType(status: number, text: string): string {
  if (status >= 500) return 'upstream_error';
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; type?: unknown } };
    // The label's values stay few: only short snake_case words from the server are kept.
    for (const value of [error?.code, error?.type])
      if (typeof value === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(value)) return value;
  } catch {
    // Not OpenAI's error body: its status says enough.
  }
  return String(status);
}

/** Whether undici gave up waiting for the replica. */
function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** Output tokens a client received: each streamed delta carries at least one, a long one more. */
function deliveredTokens(delivered: { text: string; deltas: number }): number {
  return Math.max(delivered.deltas, countTokens(delivered.text));
}

/** Resolves when a response can take more, or is closed. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (gone(response)) {
      resolve();
      return;
    }
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}

/** Whether the client of a response has gone away. */
function gone(response: ServerResponse): boolean {
  return response.destroyed || response.socket?.destroyed === true;
}
