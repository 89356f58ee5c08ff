import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The rules of `npm run lint:boundaries` (.dependency-cruiser.cjs) on small trees of their own, so a rule that
// stopped matching (a renamed folder, a broken regex) fails here instead of passing every tree silently.
const repo = resolve(import.meta.dirname, '../../..');
const made: string[] = [];

/** Writes `files` into a fresh folder shaped like the repository and runs the boundary check there. */
function cruise(files: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'aicloud-boundaries-'));
  made.push(root);
  copyFileSync(join(repo, 'tsconfig.json'), join(root, 'tsconfig.json'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const result = spawnSync(
    join(repo, 'node_modules/.bin/depcruise'),
    ['--config', join(repo, '.dependency-cruiser.cjs'), 'packages', 'apps'],
    { cwd: root, encoding: 'utf8' },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

afterAll(() => {
  for (const root of made) rmSync(root, { recursive: true, force: true });
});

describe('package boundaries', () => {
  it('passes the allowed edges: client → contracts, core → contracts, server → core', () => {
    const result = cruise({
      'packages/contracts/src/index.ts': 'export const a = 1;\n',
      'packages/client/src/index.ts': "export { a } from '../../contracts/src/index.ts';\n",
      'packages/core/src/index.ts': "export { a } from '../../contracts/src/index.ts';\n",
      'apps/server/src/index.ts': "export { a } from '../../../packages/core/src/index.ts';\n",
    });
    expect(result.output).toContain('no dependency violations');
    expect(result.status).toBe(0);
  });

  it('fails on each forbidden edge and names its rule', () => {
    const result = cruise({
      'packages/contracts/src/index.ts': 'export const a = 1;\n',
      'packages/core/src/index.ts': "export { a } from '../../contracts/src/index.ts';\n",
      'packages/client/src/index.ts': "export { a } from '../../core/src/index.ts';\n",
      'packages/executors/src/index.ts': "export { a } from '../../core/src/index.ts';\n",
      'packages/sdk/src/index.ts': "export { b } from '../../../apps/server/src/index.ts';\n",
      'apps/server/src/index.ts': 'export const b = 2;\n',
      'apps/web/src/index.ts': "export { a } from '../../../packages/core/src/index.ts';\n",
      'apps/cli/src/index.ts': "export { a } from '../../../packages/core/src/index.ts';\n",
      'packages/policy/src/a.ts': "import './b.ts';\nexport const c = 3;\n",
      'packages/policy/src/b.ts': "import './a.ts';\nexport const d = 4;\n",
    });
    expect(result.status).not.toBe(0);
    for (const rule of [
      'client-contracts-only',
      'policy-executors-contracts-only',
      'packages-not-to-apps',
      'sdk-client-only',
      'web-client-contracts-only',
      'cli-not-core',
      'no-circular',
    ])
      expect(result.output, rule).toContain(`error ${rule}:`);
  });
});
