import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainTinyModel } from '@aicloud/core/testing';
import { repoRoot } from '../src/repo-paths.ts';
import { type RunningServer, type ServerOptions, startServer } from '../src/start-server.ts';

// The tiny model the server tests deploy: the core's test helper (the example fine-tune, trained briefly).
export { trainTinyModel };

/** The users of the demo seed (seed/demo.yaml). */
type DemoUser = 'admin' | 'alice' | 'bob' | 'carol';

/**
 * A server on loopback with the demo seed, in a fresh work folder (`prefix…`) that holds the tiny model at
 * `<work>/model` and is legal-rag's import root; `options` add to or override the defaults. Answers the users'
 * tokens by name.
 */
export async function tinyModelServer(
  prefix: string,
  options: Partial<ServerOptions> = {},
): Promise<{ work: string; server: RunningServer; tokens: Record<DemoUser, { token: string }> }> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  trainTinyModel(work, 60);
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(work, 'data'),
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    importRoots: { 'legal-rag': [work] },
    tickIntervalMs: 250,
    meterIntervalMs: 500,
    ...options,
  });
  const tokens = JSON.parse(readFileSync(join(work, 'data/credentials.json'), 'utf8'));
  return { work, server, tokens };
}

/** A tool the tiny model can call (grammar-constrained arguments): find a contract's clause by its name. */
export const FIND_CLAUSE = {
  name: 'find_clause',
  description: 'Find a clause of a contract by its name',
  parameters: {
    type: 'object',
    properties: {
      clause: { type: 'string' },
      contract_id: { type: 'integer', minimum: 1, maximum: 9999 },
      strict: { type: 'boolean' },
    },
    required: ['clause', 'contract_id', 'strict'],
    additionalProperties: false,
  },
};
