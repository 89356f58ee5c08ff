import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { AppError } from '../app-error.ts';
import { migrationProvider } from './migrations.ts';
import type { Database } from './schema.ts';

/** Which SQL engine a store runs on. */
export type StoreDialect = 'sqlite' | 'postgres';

/** The open store: the Kysely handle, which engine it is, and how to close it. */
export interface Store {
  db: Kysely<Database>;
  dialect: StoreDialect;
  /** Where it lives, without credentials (for logs). */
  describe: string;
  close(): Promise<void>;
}

/** Where to open the store: a PostgreSQL URL, a SQLite file, or `:memory:`. */
export interface StoreOptions {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  sqliteFile?: string | undefined;
}

// int8 and numeric come back as text from pg by default; every value we store fits a double exactly.
pg.types.setTypeParser(20, (value) => Number(value));
pg.types.setTypeParser(1700, (value) => Number(value));

/** Opens the store, checks it answers, and runs pending migrations. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const store = options.databaseUrl
    ? await openPostgres(options.databaseUrl)
    : openSqlite(sqlitePath(options));
  try {
    await migrate(store);
  } catch (error) {
    await store.close();
    if (error instanceof AppError) throw error;
    throw new AppError(
      'unavailable',
      `could not migrate the store at ${store.describe}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return store;
}

function sqlitePath(options: StoreOptions): string {
  if (options.sqliteFile) return options.sqliteFile;
  const dir = options.dataDir ?? '.aicloud';
  ensureDataDir(dir);
  return join(dir, 'aicloud.db');
}

/** Creates the data dir (mode 0700) if needed and checks it is readable and writable. */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new AppError(
      'unavailable',
      `data dir '${dir}' is not usable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; pass --data-dir with a directory you can write`,
      {
        cause: error,
      },
    );
  }
}

function openSqlite(file: string): Store {
  let database: SqliteDatabase.Database;
  try {
    database = new SqliteDatabase(file);
    database.pragma('journal_mode = WAL');
    database.pragma('busy_timeout = 5000');
    database.pragma('foreign_keys = ON');
    database.pragma('synchronous = NORMAL');
  } catch (error) {
    throw new AppError('unavailable', `cannot open SQLite database '${file}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return { db, dialect: 'sqlite', describe: `sqlite:${file}`, close: () => db.destroy() };
}

async function openPostgres(url: string): Promise<Store> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError(
      'invalid_input',
      `--database-url is not a URL; expected postgres://user:password@host:5432/database`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new AppError(
      'invalid_input',
      `--database-url must start with postgres://, got ${parsed.protocol}//`,
    );
  }
  const describe = `postgres://${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  pool.on('error', () => {
    // An idle client lost its connection; the next query reconnects or reports the failure to its caller.
  });
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new AppError(
      'unavailable',
      `PostgreSQL at ${describe} is not reachable: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', describe, close: () => db.destroy() };
}

async function migrate(store: Store): Promise<void> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    throw new AppError(
      'unavailable',
      `migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
