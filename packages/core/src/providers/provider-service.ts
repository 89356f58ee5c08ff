import {
  type PiiMode,
  type Provider,
  type ProviderModel,
  type ProviderSummary,
  RegisterProviderRequest,
} from '@aicloud/contracts';
import type { Selectable } from 'kysely';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import type { Actor } from '../identity/principal.ts';
import { toMicros } from '../money.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';

/**
 * The secrets "team" that holds platform secrets (provider keys): no team can take the name (team names
 * start with a letter), so only platform-admins can set them: `aicloud secrets set --platform NAME`.
 */
export const PLATFORM_SECRETS = '_platform';

type ProviderRow = Selectable<Database['providers']>;

/** A provider as the gateway uses it; its key is read from the platform secret at each call. */
export interface ResolvedProvider {
  name: string;
  baseUrl: string;
  keySecret: string;
  piiMode: PiiMode;
  fallbacks: string[];
  /** Model name → price in micro-dollars per million tokens. */
  models: Map<string, { inputMicrosPerMTok: number; outputMicrosPerMTok: number }>;
}

/** External AI providers: registered by platform-admins, listed to members without how they are reached. */
export interface ProviderService {
  /** Registers a provider (platform-admins); its key secret must exist. */
  register(actor: Actor, request: RegisterProviderRequest): Promise<Provider>;
  /** Every provider: whole for platform-admins, name, models and PII mode for everyone else. */
  list(actor: Actor): Promise<(Provider | ProviderSummary)[]>;
  /** Removes a provider (platform-admins). */
  remove(actor: Actor, name: string): Promise<void>;
  /** The provider of that name, or null (the gateway's lookup). */
  resolve(name: string): Promise<ResolvedProvider | null>;
}

/** Creates the provider service. */
export function createProviderService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
}): ProviderService {
  const { store, audit, clock } = deps;
  const db = store.db;

  /** Only platform-admins change providers; a refusal is audited too. */
  async function requireAdmin(actor: Actor, action: string, name: string) {
    if (actor.principal.platformAdmin && !actor.principal.scope) return;
    await audit.record({
      actor: actor.principal.userName,
      action,
      resource: `provider/${name}`,
      outcome: 'deny',
      requestId: actor.requestId,
      details: { reason: 'only platform-admins manage providers' },
    });
    throw new AppError(
      'forbidden',
      `${actor.principal.userName} may not ${action === 'provider.registered' ? 'register' : 'remove'} provider ${name}: only platform-admins register or remove external providers (their keys are platform secrets); ask a platform-admin, or see the registered ones with \`aicloud providers list\``,
    );
  }

  return {
    async register(actor, input) {
      const request = RegisterProviderRequest.parse(input);
      await requireAdmin(actor, 'provider.registered', request.name);
      const names = request.models.map((model) => model.name);
      if (new Set(names).size !== names.length)
        throw new AppError('invalid_input', 'each model may be listed once', {
          issues: [{ path: ['models'], message: 'duplicate model name' }],
        });
      const own = request.fallbacks.find((ref) => ref.startsWith(`${request.name}/`));
      if (own && !names.includes(own.slice(request.name.length + 1)))
        throw new AppError('invalid_input', `fallback ${own} names a model this provider does not list`, {
          issues: [{ path: ['fallbacks'], message: 'unknown model of this provider' }],
        });
      // Only whether it exists: the key is read (decrypted) at each call, never here.
      const known = await db
        .selectFrom('secrets')
        .select('name')
        .where('team', '=', PLATFORM_SECRETS)
        .where('name', '=', request.keySecret)
        .executeTakeFirst();
      if (!known)
        throw new AppError(
          'invalid_input',
          `no platform secret ${request.keySecret}: set the provider's key first with \`aicloud secrets set --platform ${request.keySecret}\``,
          { issues: [{ path: ['keySecret'], message: 'no such platform secret' }] },
        );
      const row: ProviderRow = {
        name: request.name,
        base_url: request.baseUrl.replace(/\/+$/, ''),
        key_secret: request.keySecret,
        models: JSON.stringify(
          request.models.map((model) => ({
            name: model.name,
            inputMicrosPerMTok: toMicros(model.inputUsdPerMTok),
            outputMicrosPerMTok: toMicros(model.outputUsdPerMTok),
          })),
        ),
        pii_mode: request.piiMode,
        fallbacks: JSON.stringify(request.fallbacks),
        created_by: actor.principal.userName,
        created_at: isoNow(clock),
      };
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('providers')
          .select('name')
          .where('name', '=', request.name)
          .executeTakeFirst();
        if (existing)
          throw new AppError(
            'conflict',
            `provider ${request.name} exists; remove it first: aicloud providers remove ${request.name}`,
          );
        await trx.insertInto('providers').values(row).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'provider.registered',
          resource: `provider/${request.name}`,
          outcome: 'success',
          requestId: actor.requestId,
          // The secret's name only: its value is never read into the record.
          details: { baseUrl: row.base_url, keySecret: row.key_secret, piiMode: row.pii_mode, models: names },
        });
      });
      return toProvider(row);
    },

    async list(actor) {
      const rows = await db.selectFrom('providers').selectAll().orderBy('name').execute();
      if (actor.principal.platformAdmin) return rows.map(toProvider);
      return rows.map((row) => ({
        name: row.name,
        models: modelsOf(row),
        piiMode: row.pii_mode as PiiMode,
      }));
    },

    async remove(actor, name) {
      await requireAdmin(actor, 'provider.removed', name);
      await db.transaction().execute(async (trx) => {
        const deleted = await trx.deleteFrom('providers').where('name', '=', name).executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) throw notFound('provider', name);
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'provider.removed',
          resource: `provider/${name}`,
          outcome: 'success',
          requestId: actor.requestId,
        });
      });
    },

    async resolve(name) {
      const row = await db.selectFrom('providers').selectAll().where('name', '=', name).executeTakeFirst();
      if (!row) return null;
      const stored = JSON.parse(row.models) as {
        name: string;
        inputMicrosPerMTok: number;
        outputMicrosPerMTok: number;
      }[];
      return {
        name: row.name,
        baseUrl: row.base_url,
        keySecret: row.key_secret,
        piiMode: row.pii_mode as PiiMode,
        fallbacks: JSON.parse(row.fallbacks) as string[],
        models: new Map(stored.map(({ name: model, ...prices }) => [model, prices])),
      };
    },
  };
}

function modelsOf(row: ProviderRow): ProviderModel[] {
  const stored = JSON.parse(row.models) as {
    name: string;
    inputMicrosPerMTok: number;
    outputMicrosPerMTok: number;
  }[];
  return stored.map((model) => ({
    name: model.name,
    inputUsdPerMTok: model.inputMicrosPerMTok / 1_000_000,
    outputUsdPerMTok: model.outputMicrosPerMTok / 1_000_000,
  }));
}

function toProvider(row: ProviderRow): Provider {
  return {
    name: row.name,
    baseUrl: row.base_url,
    keySecret: row.key_secret,
    models: modelsOf(row),
    piiMode: row.pii_mode as PiiMode,
    fallbacks: JSON.parse(row.fallbacks) as string[],
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}
