import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Product, ProductSpec } from '@aicloud/contracts';
import { parse } from 'yaml';
import { AppError } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { parseDuration } from '../duration.ts';
import type { Actor } from '../identity/principal.ts';
import type { Store } from '../store/open-store.ts';

/** No runtime on the platform may exceed twelve hours, whatever a product says. */
export const PLATFORM_MAX_RUNTIME_SECONDS = 12 * 3600;

/** The compute catalog: products from `catalog/*.yaml`, and those platform-admins add through the API. */
export interface CatalogService {
  list(): Promise<Product[]>;
  get(name: string): Promise<Product>;
  /** A product a request names: an unknown name is the caller's mistake (invalid_input on `product`). */
  requested(name: string): Promise<Product>;
  /** Creates or replaces a product (platform-admins only). */
  put(actor: Actor, spec: unknown): Promise<Product>;
  /** Loads the YAML files into the store; file products are replaced, API products kept. */
  syncFiles(dir: string): Promise<number>;
}

/** Validates a product spec and the platform's own limits. */
export function validateProduct(input: unknown, where: string): ProductSpec {
  const parsed = ProductSpec.safeParse(input);
  if (!parsed.success) {
    throw new AppError(
      'invalid_input',
      `${where}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      {
        issues: parsed.error.issues.map((issue) => ({
          path: issue.path.map(String),
          message: issue.message,
        })),
      },
    );
  }
  const spec = parsed.data;
  const maxDuration = parseDuration(spec.maxDuration, 'maxDuration');
  if (maxDuration > PLATFORM_MAX_RUNTIME_SECONDS) {
    throw new AppError(
      'invalid_input',
      `${where}: maxDuration ${spec.maxDuration} is above the platform ceiling of 12h`,
      {
        issues: [{ path: ['maxDuration'], message: 'at most 12h' }],
      },
    );
  }
  if (spec.gpu.min > spec.gpu.max) throw new AppError('invalid_input', `${where}: gpu.min is above gpu.max`);
  for (const type of spec.gpu.types) {
    if (!spec.prices[type]) throw new AppError('invalid_input', `${where}: no price for GPU type ${type}`);
  }
  if (spec.gpu.max === 0 && !spec.prices.cpu)
    throw new AppError('invalid_input', `${where}: a CPU product needs a price under prices.cpu`);
  // Jupyter is reached through a network namespace this machine prepares: no other executor can run it.
  if (spec.kind === 'notebook' && spec.executor !== 'local') {
    throw new AppError(
      'invalid_input',
      `${where}: notebooks run on the local executor only, not ${spec.executor} (their proxy reaches Jupyter on this machine)`,
      { issues: [{ path: ['executor'], message: 'notebooks run on local' }] },
    );
  }
  return spec;
}

function toProduct(spec: ProductSpec, source: 'file' | 'api', updatedAt: string): Product {
  return {
    ...spec,
    maxDurationSeconds: parseDuration(spec.maxDuration),
    idleDurationSeconds: spec.idleDuration ? parseDuration(spec.idleDuration) : null,
    source,
    updatedAt,
  };
}

/** Creates the catalog service. */
export function createCatalogService(deps: {
  store: Store;
  audit: AuditService;
  clock: Clock;
}): CatalogService {
  const { store, audit, clock } = deps;
  const db = store.db;

  // Products change rarely and are read on every submission and start: cache them, keyed by name, and
  // drop the cache whenever this process writes the catalog (the only writer).
  const cache = new Map<string, Product>();

  async function get(name: string): Promise<Product> {
    const cached = cache.get(name);
    if (cached) return cached;
    const row = await db.selectFrom('products').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) {
      const names = (await db.selectFrom('products').select('name').orderBy('name').execute()).map(
        (product) => product.name,
      );
      throw new AppError(
        'not_found',
        `product '${name}' is not in the catalog; choose one of: ${names.join(', ')} (aicloud catalog list)`,
      );
    }
    const product = toProduct(
      JSON.parse(row.spec) as ProductSpec,
      row.source as 'file' | 'api',
      row.updated_at,
    );
    cache.set(name, product);
    return product;
  }

  return {
    get,
    requested: (name) =>
      get(name).catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'not_found') {
          throw new AppError('invalid_input', error.message, {
            issues: [{ path: ['product'], message: 'unknown product' }],
          });
        }
        throw error;
      }),
    async list() {
      const rows = await db.selectFrom('products').selectAll().orderBy('name').execute();
      return rows.map((row) =>
        toProduct(JSON.parse(row.spec) as ProductSpec, row.source as 'file' | 'api', row.updated_at),
      );
    },

    async put(actor, input) {
      if (!actor.principal.platformAdmin) {
        await audit.record({
          actor: actor.principal.userName,
          action: 'product.put',
          resource: 'catalog',
          outcome: 'deny',
          requestId: actor.requestId,
        });
        throw new AppError('forbidden', 'only platform-admins curate the catalog');
      }
      const spec = validateProduct(input, 'product');
      cache.clear();
      const now = isoNow(clock);
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('products')
          .select('name')
          .where('name', '=', spec.name)
          .executeTakeFirst();
        if (existing) {
          await trx
            .updateTable('products')
            .set({ spec: JSON.stringify(spec), source: 'api', updated_at: now })
            .where('name', '=', spec.name)
            .execute();
        } else {
          await trx
            .insertInto('products')
            .values({ name: spec.name, spec: JSON.stringify(spec), source: 'api', updated_at: now })
            .execute();
        }
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: existing ? 'product.updated' : 'product.created',
          resource: `product/${spec.name}`,
          outcome: 'success',
          requestId: actor.requestId,
          details: { spec },
        });
      });
      cache.clear();
      return get(spec.name);
    },

    async syncFiles(dir) {
      const files = readdirSync(dir)
        .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
        .sort();
      const specs = files.map((file) => {
        let raw: unknown;
        try {
          raw = parse(readFileSync(join(dir, file), 'utf8'));
        } catch (error) {
          throw new AppError('invalid_input', `catalog file ${file}: ${(error as Error).message}`);
        }
        return validateProduct(raw, `catalog file ${file}`);
      });
      const now = isoNow(clock);
      cache.clear();
      await db.transaction().execute(async (trx) => {
        for (const spec of specs) {
          const existing = await trx
            .selectFrom('products')
            .select(['source', 'spec'])
            .where('name', '=', spec.name)
            .executeTakeFirst();
          if (existing?.source === 'api') continue;
          const text = JSON.stringify(spec);
          if (existing?.spec === text) continue;
          if (existing)
            await trx
              .updateTable('products')
              .set({ spec: text, updated_at: now })
              .where('name', '=', spec.name)
              .execute();
          else
            await trx
              .insertInto('products')
              .values({ name: spec.name, spec: text, source: 'file', updated_at: now })
              .execute();
          await audit.append(trx, {
            actor: 'system',
            action: existing ? 'product.updated' : 'product.created',
            resource: `product/${spec.name}`,
            outcome: 'success',
            details: { source: 'file' },
          });
        }
      });
      cache.clear();
      return specs.length;
    },
  };
}
