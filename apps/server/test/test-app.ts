import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPlatform } from '@aicloud/core/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/build-app.ts';

/** A platform on SQLite with the demo seed, its app (for `inject`, not listening) and each seeded user's token. */
export interface TestApp {
  platform: Awaited<ReturnType<typeof createTestPlatform>>;
  app: FastifyInstance;
  tokens: Record<string, string>;
  /** The Authorization header of a seeded user. */
  as(user: string): { authorization: string };
  close(): Promise<void>;
}

/** Starts a TestApp; call `close()` after the tests. */
export async function startTestApp(): Promise<TestApp> {
  const platform = await createTestPlatform('sqlite', null);
  const app = await buildApp(platform, { webRoot: null });
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8')) as Record<
    string,
    { token: string }
  >;
  const tokens = Object.fromEntries(Object.entries(credentials).map(([user, entry]) => [user, entry.token]));
  return {
    platform,
    app,
    tokens,
    as: (user) => ({ authorization: `Bearer ${tokens[user]}` }),
    async close() {
      await app.close();
      await platform.dispose();
    },
  };
}
