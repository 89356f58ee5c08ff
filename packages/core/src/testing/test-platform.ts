import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLocalExecutor,
  createSlurmExecutor,
  type Executor,
  type SlurmGresTypes,
} from '@aicloud/executors';
import { createCedarAuthorizer } from '@aicloud/policy';
import pg from 'pg';
import { createApiAddress } from '../api-address.ts';
import type { Clock } from '../clock.ts';
import { createPlatform, type Platform } from '../platform.ts';
import type { Authorizer } from '../ports/authorizer.ts';

/** The engines the same service tests run on. */
export type StoreTarget = 'sqlite' | 'postgres';

const repoRoot = join(import.meta.dirname, '../../../..');

/** The demo seed shipped in the repository. */
export const demoSeedFile = join(repoRoot, 'seed/demo.yaml');

/** Targets to run on: SQLite always, PostgreSQL when the test setup started one. */
export function storeTargets(pgUrl: string | null): StoreTarget[] {
  return pgUrl ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** A fresh, seeded platform on the target: SQLite in memory, or a new PostgreSQL database. */
export async function createTestPlatform(
  target: StoreTarget,
  pgUrl: string | null,
  options: {
    clock?: Clock;
    seed?: boolean;
    catalogDir?: string;
    meterIntervalMs?: number;
    /** The real Slurm cluster for `executor: slurm` (the test cluster's GPUs have no type: read from sinfo unless given). */
    slurm?: { partition: string; accounts?: Record<string, string>; gresTypes?: SlurmGresTypes };
    importRoots?: Record<string, string[]>;
    importMaxBytes?: number;
    /** Reuse this data directory (and its SQLite file): a restarted server on the same state. */
    dataDir?: string;
    pipelineRetryBaseMs?: number;
    /** The policy engine (default: Cedar over the repository's policies/). */
    authorizer?: Authorizer;
  } = {},
): Promise<Platform & { dataDir: string; dispose(): Promise<void> }> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'aicloud-test-'));
  let databaseUrl: string | undefined;
  let dropDatabase = async () => {};
  if (target === 'postgres') {
    if (!pgUrl) throw new Error('no PostgreSQL for the postgres target');
    const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(pgUrl);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = async () => {
      const dropper = new pg.Client({ connectionString: pgUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    };
  }
  // The executors as apps/server's composition root builds them: one local (sandboxed where this machine
  // can, the checkout's code read-only), Slurm when asked.
  const apiAddress = createApiAddress();
  const clock = options.clock;
  const executors: Record<string, Executor> = {
    local: createLocalExecutor({
      ...(clock ? { clock } : {}),
      sandbox: {
        platformApi: apiAddress.sandboxApi,
        readOnly: ['examples', 'packages', 'node_modules'].map((dir) => join(repoRoot, dir)),
      },
    }),
  };
  if (options.slurm) {
    const { partition, gresTypes } = options.slurm;
    executors.slurm = createSlurmExecutor({ partition, gresTypes, ...(clock ? { clock } : {}) });
  }
  const platform = await createPlatform({
    dataDir,
    databaseUrl,
    sqliteFile: target === 'sqlite' ? join(dataDir, 'aicloud.db') : undefined,
    seedFile: options.seed === false ? null : demoSeedFile,
    clock: options.clock,
    catalogDir: options.catalogDir ?? join(repoRoot, 'catalog'),
    meterIntervalMs: options.meterIntervalMs,
    executors,
    apiAddress,
    slurmAccounts: options.slurm?.accounts,
    importRoots: options.importRoots,
    importMaxBytes: options.importMaxBytes,
    pipelineRetryBaseMs: options.pipelineRetryBaseMs,
    authorizer: options.authorizer ?? createCedarAuthorizer({ policiesDir: join(repoRoot, 'policies') }),
  });
  return Object.assign(platform, {
    dataDir,
    async dispose() {
      await platform.close();
      await dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export { seededRandom, trainTinyModel } from './tiny-model.ts';
