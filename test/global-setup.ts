import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for the store tests, or null where none can run. */
    pgUrl: string | null;
  }
}

const root = join(import.meta.dirname, '..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts a throwaway PostgreSQL (unless AICLOUD_TEST_PG_URL names one) and builds the portal once. */
export default async function setup(project: TestProject): Promise<() => void> {
  let pgUrl = process.env.AICLOUD_TEST_PG_URL ?? null;
  let pgDir: string | null = null;
  if (!pgUrl && existsSync('/usr/lib/postgresql/15/bin/postgres') && process.getuid?.() === 0) {
    pgDir = `/tmp/aicloud-test-pg-${process.pid}`;
    const output = execFileSync(join(root, 'scripts/services/pg-up.sh'), [pgDir, String(await freePort())], {
      encoding: 'utf8',
    });
    pgUrl = output.trim().split('\n').at(-1) ?? null;
  }
  if (!pgUrl && process.env.CI)
    throw new Error(
      'CI must run the PostgreSQL store tests: set AICLOUD_TEST_PG_URL or install PostgreSQL 15',
    );
  project.provide('pgUrl', pgUrl);
  if (!existsSync(join(root, 'apps/web/dist/index.html'))) {
    execFileSync('npm', ['run', 'build', '--workspace', 'apps/web'], { cwd: root, stdio: 'ignore' });
  }
  return () => {
    if (pgDir) execFileSync(join(root, 'scripts/services/pg-down.sh'), [pgDir], { stdio: 'ignore' });
  };
}
