import { join } from 'node:path';
import { type AuditService, createAuditService } from './audit/audit-service.ts';
import { type Clock, systemClock } from './clock.ts';
import { createIdentityService, type IdentityService } from './identity/identity-service.ts';
import { type SeedResult, seedDemo } from './seed/seed-demo.ts';
import { openStore, type Store } from './store/open-store.ts';

/** How to start the platform's core. */
export interface PlatformConfig {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** The demo organisation to seed on first start; null seeds nothing. */
  seedFile: string | null;
  clock?: Clock;
  /** Overrides the SQLite location (tests use `:memory:`). */
  sqliteFile?: string;
}

/** The services of one running platform, wired together. */
export interface Platform {
  config: PlatformConfig;
  store: Store;
  clock: Clock;
  audit: AuditService;
  identity: IdentityService;
  seed: SeedResult;
  close(): Promise<void>;
}

/** Opens the store, runs migrations, wires the services and seeds the demo organisation once. */
export async function createPlatform(config: PlatformConfig): Promise<Platform> {
  const clock = config.clock ?? systemClock;
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    sqliteFile: config.sqliteFile,
  });
  try {
    const audit = createAuditService({ store, clock });
    const identity = createIdentityService({ store, audit, clock });
    const seed = config.seedFile
      ? await seedDemo({
          store,
          identity,
          audit,
          clock,
          seedFile: config.seedFile,
          credentialsFile: join(config.dataDir, 'credentials.json'),
        })
      : { seeded: false, users: [], credentialsFile: null };
    return { config, store, clock, audit, identity, seed, close: () => store.close() };
  } catch (error) {
    await store.close();
    throw error;
  }
}
