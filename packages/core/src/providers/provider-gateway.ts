import type { ServerResponse } from 'node:http';
import { sql } from 'kysely';
import { request } from 'undici';
import { checkPolicy, refusingHit } from '../admission/policy-check.ts';
import { readBudget } from '../admission/team-usage.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { appendUsage } from '../billing/ledger.ts';
import type { Clock } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import type { SecretService } from '../secrets/secret-service.ts';
import { DEFAULT_QUOTA_MAX_TOKENS, type Gateway } from '../serving/gateway.ts';
import { countTokens } from '../serving/gateway-request-check.ts';
import { OpenAIError } from '../serving/openai-error.ts';
import { validateOpenAIRequest } from '../serving/openai-validation.ts';
import type { Store } from '../store/open-store.ts';
import { createPiiDetector, type PiiDetector } from './pii-detector.ts';
import { type GuardedPrompt, guardMessages, UnreadablePartError } from './prompt-guard.ts';
import {
  authenticateProviderCaller,
  classifyCarried,
  datasetsHeader,
  type ProviderCaller,
} from './provider-caller.ts';
import { relay } from './provider-relay.ts';
import { PLATFORM_SECRETS, type ProviderService, type ResolvedProvider } from './provider-service.ts';

/** One request for an external provider's model, as the OpenAI route received it. */
export interface ProviderCall {
  authorization: string | undefined;
  body: unknown;
  /** The `x-aicloud-datasets` header: datasets whose data the prompt carries. */
  datasets: string | string[] | undefined;
  requestId: string;
}

/** `/v1/chat/completions` for `<provider>/<model>`: detector, policy, quota, budget, fallbacks, metering. */
export interface ProviderGateway {
  /** Whether a request's model names a registered provider (`<provider>/<model>`). */
  serves(model: unknown): Promise<boolean>;
  /** Serves one request; throws OpenAIError before anything is written. */
  handle(call: ProviderCall, response: ServerResponse): Promise<void>;
}

interface Target {
  provider: ResolvedProvider;
  model: string;
  prices: { inputMicrosPerMTok: number; outputMicrosPerMTok: number };
}

/** Creates the provider gateway; `detector` is replaceable (tests make it fail to prove it fails closed). */
export function createProviderGateway(deps: {
  store: Store;
  clock: Clock;
  audit: AuditService;
  authorizer: Authorizer;
  identity: IdentityService;
  secrets: SecretService;
  providers: ProviderService;
  /** The endpoint gateway, told about tokens a key spends here so both count one quota. */
  gateway?: Pick<Gateway, 'countExternalUsage'>;
  detector?: PiiDetector;
  /** How long a provider may take to answer before the next fallback is tried (default 60 s). */
  timeoutMs?: number;
}): ProviderGateway {
  const { store, clock, audit, authorizer, secrets, providers } = deps;
  const detector = deps.detector ?? createPiiDetector();
  const timeoutMs = deps.timeoutMs ?? 60_000;
  const db = store.db;
  /** Tokens reserved by requests in flight, per key with a quota. */
  const reserved = new Map<string, number>();

  async function targetOf(ref: string): Promise<Target | null> {
    const slash = ref.indexOf('/');
    if (slash <= 0) return null;
    const provider = await providers.resolve(ref.slice(0, slash));
    const model = ref.slice(slash + 1);
    const prices = provider?.models.get(model);
    return provider && prices ? { provider, model, prices } : null;
  }

  /** The Cedar decision for one target; a refusal is audited and answered with OpenAI's 403. */
  async function checkTarget(caller: ProviderCaller, target: Target, carried: string[], requestId: string) {
    const { restricted, unverified } = await classifyCarried(store, caller.team, carried);
    const decision = checkPolicy(authorizer, {
      principal: { name: caller.user, platformAdmin: caller.platformAdmin, teams: [caller.team] },
      action: 'call_provider',
      resource: {
        type: 'Provider',
        id: `${target.provider.name}/${target.model}`,
        attrs: { provider: target.provider.name, model: target.model, team: caller.team },
      },
      context: { role: caller.role, restrictedDatasets: restricted, unverifiedDatasets: unverified },
    });
    const hit = refusingHit(decision, ['provider-no-confidential-data', 'provider-known-datasets']);
    if (!hit) return;
    await audit.record({
      actor: caller.user,
      action: 'provider.called',
      resource: `provider/${target.provider.name}/${target.model}`,
      team: caller.team,
      outcome: 'deny',
      requestId,
      details: { policyId: hit.policyId, restrictedDatasets: restricted, unverifiedDatasets: unverified },
    });
    throw new OpenAIError(
      403,
      `Refused by policy ${hit.policyId}: ${hit.reason}`,
      'invalid_request_error',
      'policy_denied',
      null,
      null,
      false,
    );
  }

  /** The detector over every message, once per request; any failure refuses the request (fail closed). */
  async function guard(caller: ProviderCaller, messages: unknown[]): Promise<GuardedPrompt> {
    try {
      const names = await db.selectFrom('secrets').select('name').where('team', '=', caller.team).execute();
      const values = Object.values(
        await secrets.reveal(
          caller.team,
          names.map((row) => row.name),
        ),
      );
      return guardMessages(detector, messages, values);
    } catch (error) {
      if (error instanceof UnreadablePartError)
        throw new OpenAIError(
          400,
          `${error.message}: external providers get text only`,
          'invalid_request_error',
          'unsupported_content',
          'messages',
        );
      throw new OpenAIError(
        503,
        'The personal-data check failed, so nothing was sent to the provider.',
        'server_error',
        'pii_check_failed',
        null,
        null,
        false,
      );
    }
  }

  function blocked(kinds: string[]): OpenAIError {
    return new OpenAIError(
      400,
      `The prompt holds data that may not go to an external provider (${kinds.join(', ')}); remove it, or ask a platform-admin for a provider in redact mode.`,
      'invalid_request_error',
      'sensitive_data_blocked',
      'messages',
      null,
      false,
    );
  }

  async function checkBudget(caller: ProviderCaller) {
    const state = await db.transaction().execute((trx) => readBudget(store, trx, caller.team, clock.now()));
    if (state !== null && state.remainingMicros <= 0)
      throw new OpenAIError(
        429,
        `The budget of team ${caller.team} is exhausted; a manager can raise it: aicloud budgets set --team ${caller.team} --max-budget <usd>`,
        'insufficient_quota',
        'insufficient_quota',
        null,
        null,
        false,
      );
  }

  /** Reserves the request's most tokens against its key's period quota (the ledger is the truth), or 429. */
  async function reserveQuota(caller: ProviderCaller, body: Record<string, unknown>, promptText: string) {
    const key = caller.key;
    if (!key || key.max_tokens_per_period === null) return { injectCap: false, release() {} };
    const length = parseDuration(key.period ?? '30d', 'period') * 1000;
    const created = Date.parse(key.created_at);
    const start = created + Math.floor((clock.now() - created) / length) * length;
    const row = await db
      .selectFrom('usage_ledger')
      .select(
        sql<number>`sum(case when unit = 'million_tokens' then quantity * 1000000 else quantity end)`.as(
          'tokens',
        ),
      )
      .where('project', '=', key.id)
      .where('unit', 'in', ['token', 'million_tokens'])
      .where('window_start', '>=', new Date(start).toISOString())
      .executeTakeFirst();
    const used = Math.round(Number(row?.tokens ?? 0));
    const cap = body.max_completion_tokens ?? body.max_tokens;
    const injectCap = cap === undefined || cap === null;
    const output =
      typeof cap === 'number' && Number.isInteger(cap) && cap > 0 ? cap : DEFAULT_QUOTA_MAX_TOKENS;
    const n = typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 1 ? body.n : 1;
    const tokens = countTokens(promptText) + output * n;
    const inFlight = reserved.get(key.id) ?? 0;
    const quota = key.max_tokens_per_period;
    if (used + inFlight + tokens > quota)
      throw new OpenAIError(
        429,
        `This request may use up to ${tokens} tokens; this key has ${Math.max(0, quota - used - inFlight)} left of its quota of ${quota} tokens per ${key.period}.`,
        'insufficient_quota',
        'insufficient_quota',
        null,
        inFlight > 0 && used + tokens <= quota ? 1 : null,
        inFlight > 0 && used + tokens <= quota ? null : false,
      );
    reserved.set(key.id, inFlight + tokens);
    let released = false;
    return {
      injectCap,
      release() {
        if (released) return;
        released = true;
        const left = (reserved.get(key.id) ?? 0) - tokens;
        if (left > 0) reserved.set(key.id, left);
        else reserved.delete(key.id);
      },
    };
  }

  /** Records a call's tokens at the answering model's price (micro-dollars per million tokens). */
  async function meter(
    caller: ProviderCaller,
    target: Target,
    tokensIn: number,
    tokensOut: number,
    since: number,
  ) {
    if (tokensIn + tokensOut === 0) return;
    const ref = `${target.provider.name}/${target.model}`;
    const base = {
      team: caller.team,
      user: caller.user,
      project: caller.key?.id ?? caller.jobId,
      category: 'inference' as const,
      unit: 'million_tokens',
      sourceKind: 'provider' as const,
      sourceId: ref,
      windowStart: new Date(since).toISOString(),
      windowEnd: new Date(clock.now()).toISOString(),
    };
    await db.transaction().execute((trx) =>
      appendUsage(trx, clock, [
        ...(tokensIn > 0
          ? [
              {
                ...base,
                resource: `tokens_in:${ref}`,
                quantity: tokensIn / 1_000_000,
                rateMicros: target.prices.inputMicrosPerMTok,
              },
            ]
          : []),
        ...(tokensOut > 0
          ? [
              {
                ...base,
                resource: `tokens_out:${ref}`,
                quantity: tokensOut / 1_000_000,
                rateMicros: target.prices.outputMicrosPerMTok,
              },
            ]
          : []),
      ]),
    );
    if (caller.key) deps.gateway?.countExternalUsage(caller.key.id, tokensIn + tokensOut);
  }

  return {
    async serves(model) {
      if (typeof model !== 'string') return false;
      const slash = model.indexOf('/');
      return slash > 0 && (await providers.resolve(model.slice(0, slash))) !== null;
    },

    async handle(call, response) {
      const started = clock.now();
      const { model, promptText, stream } = validateOpenAIRequest('chat', call.body);
      const body = call.body as Record<string, unknown>;
      const caller = await authenticateProviderCaller(deps, call.authorization);
      const primary = await targetOf(model);
      if (!primary)
        throw new OpenAIError(
          404,
          `The model \`${model}\` does not exist or you do not have access to it.`,
          'invalid_request_error',
          'model_not_found',
          'model',
        );
      const carried = [...caller.datasets, ...datasetsHeader(call.datasets)];
      // Policy first: a refused request is not even scanned.
      await checkTarget(caller, primary, carried, call.requestId);
      const guarded = await guard(caller, body.messages as unknown[]);
      if (guarded.kinds.length > 0 && primary.provider.piiMode === 'block') {
        await audit.record({
          actor: caller.user,
          action: 'provider.called',
          resource: `provider/${primary.provider.name}/${primary.model}`,
          team: caller.team,
          outcome: 'deny',
          requestId: call.requestId,
          details: { blocked: guarded.kinds },
        });
        throw blocked(guarded.kinds);
      }
      await checkBudget(caller);
      const reservation = await reserveQuota(caller, body, promptText);
      const streamOptions = body.stream_options as { include_usage?: unknown } | null | undefined;
      // A client that leaves cancels the provider's request: only what it received is metered.
      const abort = new AbortController();
      response.on('close', () => {
        if (!response.writableFinished) abort.abort();
      });
      const failures: string[] = [];
      try {
        for (const ref of [model, ...primary.provider.fallbacks]) {
          const target: Target | null = ref === model ? primary : await targetOf(ref);
          if (!target) {
            failures.push(`${ref}: not registered`);
            continue;
          }
          // The same guarantees for every fallback: its own policy decision and PII mode.
          if (target !== primary) {
            try {
              await checkTarget(caller, target, carried, call.requestId);
            } catch {
              failures.push(`${ref}: refused by policy`);
              continue;
            }
            if (guarded.kinds.length > 0 && target.provider.piiMode === 'block') {
              failures.push(`${ref}: blocks ${guarded.kinds.join(', ')}`);
              continue;
            }
          }
          const key = (await secrets.reveal(PLATFORM_SECRETS, [target.provider.keySecret]))[
            target.provider.keySecret
          ];
          if (key === undefined) {
            failures.push(`${ref}: its key secret is missing`);
            continue;
          }
          const forwarded: Record<string, unknown> = {
            ...body,
            model: target.model,
            messages: guarded.messages,
          };
          if (reservation.injectCap) forwarded.max_tokens = DEFAULT_QUOTA_MAX_TOKENS;
          if (stream) forwarded.stream_options = { ...streamOptions, include_usage: true };
          let upstream: Awaited<ReturnType<typeof request>>;
          try {
            upstream = await request(`${target.provider.baseUrl}/chat/completions`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${key}`,
                'x-request-id': call.requestId,
              },
              body: JSON.stringify(forwarded),
              headersTimeout: timeoutMs,
              bodyTimeout: timeoutMs,
              signal: abort.signal,
            });
          } catch (error) {
            // The client left while the provider was thinking: the prompt was sent, so it is billed.
            if (abort.signal.aborted) {
              await meter(caller, target, countTokens(promptText), 0, started);
              return;
            }
            failures.push(
              `${ref}: ${(error as Error).name === 'HeadersTimeoutError' ? 'timed out' : 'unreachable'}`,
            );
            continue;
          }
          if (upstream.statusCode >= 500) {
            await upstream.body.dump().catch(() => {});
            failures.push(`${ref}: answered ${upstream.statusCode}`);
            continue;
          }
          const headers: Record<string, string> = {
            'content-type': String(upstream.headers['content-type'] ?? 'application/json'),
            'x-request-id': call.requestId,
            'x-aicloud-provider': ref,
            'x-aicloud-redactions': String(guarded.findings),
          };
          let relayed: Awaited<ReturnType<typeof relay>>;
          try {
            relayed = await relay(upstream, response, headers, {
              stream: stream && upstream.statusCode === 200,
              clientWantsUsage: streamOptions?.include_usage === true,
              signal: abort.signal,
            });
          } catch (error) {
            if (!abort.signal.aborted) throw error;
            relayed = { usage: null, deliveredTokens: 0, aborted: true };
          }
          if (upstream.statusCode < 400) {
            // Never under-metered: without the provider's usage (or once the client left), what was
            // delivered is counted with the gateway's token counter.
            const usage = relayed.aborted ? null : relayed.usage;
            const tokensIn = usage?.prompt_tokens ?? countTokens(promptText);
            const tokensOut = usage?.completion_tokens ?? relayed.deliveredTokens;
            await meter(caller, target, tokensIn, tokensOut, started);
          }
          return;
        }
      } finally {
        reservation.release();
      }
      throw new OpenAIError(
        502,
        `No provider could answer: ${failures.join('; ')}.`,
        'server_error',
        'provider_unavailable',
        null,
        5,
      );
    },
  };
}
