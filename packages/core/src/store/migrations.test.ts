import SqliteDatabase from 'better-sqlite3';
import { type Insertable, Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { storeTargets } from '../testing/test-platform.ts';
import { migrationProvider } from './migrations.ts';
import type { Database } from './schema.ts';

type RolloutRow = Insertable<Database['endpoint_rollouts']>;

const pgUrl = inject('pgUrl');

/** A rollout row as 0018 stored it: thresholds fixed at deploy, no latency allowance. */
const rollout = (id: string, changes: Partial<RolloutRow> = {}) =>
  ({
    id,
    endpoint_id: 'ep_1',
    canary_id: `ep_${id}`,
    endpoint: 'legal-answerer',
    team: 'legal-rag',
    model: 'legal-answerer',
    from_version: 1,
    to_version: 2,
    status: 'progressing',
    steps: '[10,20,40,80]',
    step: 0,
    window_s: 300,
    min_requests: 20,
    max_error_rate_increase: 0.05,
    max_latency_ratio: 1.5,
    max_quality_drop: 0.05,
    quality: null,
    waiting: null,
    step_started_at: '2026-12-05T09:00:00.000Z',
    created_by: 'alice',
    created_at: '2026-12-05T09:00:00.000Z',
    ended_at: null,
    ...changes,
  }) as RolloutRow;

describe.each(storeTargets(pgUrl))('migration 0019_rollout_thresholds on %s', (target) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** An empty store of the target, not migrated yet. */
  async function emptyStore(): Promise<Kysely<Database>> {
    if (target === 'sqlite') {
      const db = new Kysely<Database>({
        dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
      });
      cleanups.push(() => db.destroy());
      return db;
    }
    const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const dropper = new pg.Client({ connectionString: pgUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    });
    const url = new URL(pgUrl);
    url.pathname = `/${name}`;
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 2 }) }),
    });
    cleanups.push(() => db.destroy());
    return db;
  }

  it('keeps the rollouts before it at the 50 ms allowance they were judged with, and stores a deploy’s own thresholds', async () => {
    const db = await emptyStore();
    const migrator = new Migrator({ db, provider: migrationProvider });
    const upTo18 = await migrator.migrateTo('0018_endpoint_rollouts');
    expect(upTo18.error).toBeUndefined();
    await db.insertInto('endpoint_rollouts').values(rollout('ro_before')).execute();

    const latest = await migrator.migrateToLatest();
    expect(latest.error).toBeUndefined();
    expect(latest.results?.map((result) => [result.migrationName, result.status])).toContainEqual([
      '0019_rollout_thresholds',
      'Success',
    ]);
    const before = await db
      .selectFrom('endpoint_rollouts')
      .select(['max_error_rate_increase', 'max_latency_ratio', 'latency_allowance_ms', 'max_quality_drop'])
      .where('id', '=', 'ro_before')
      .executeTakeFirstOrThrow();
    expect(before).toEqual({
      max_error_rate_increase: 0.05,
      max_latency_ratio: 1.5,
      latency_allowance_ms: 50,
      max_quality_drop: 0.05,
    });

    // A rollout deployed with thresholds of its own keeps them exactly (0 included).
    await db
      .insertInto('endpoint_rollouts')
      .values(
        rollout('ro_after', {
          max_error_rate_increase: 0.125,
          max_latency_ratio: 2.25,
          latency_allowance_ms: 0,
          max_quality_drop: 0.8,
        }),
      )
      .execute();
    const after = await db
      .selectFrom('endpoint_rollouts')
      .select(['max_error_rate_increase', 'max_latency_ratio', 'latency_allowance_ms', 'max_quality_drop'])
      .where('id', '=', 'ro_after')
      .executeTakeFirstOrThrow();
    expect(after).toEqual({
      max_error_rate_increase: 0.125,
      max_latency_ratio: 2.25,
      latency_allowance_ms: 0,
      max_quality_drop: 0.8,
    });
  });
});
