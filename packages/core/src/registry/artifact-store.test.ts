import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeArtifact } from './artifact-store.ts';

describe('storeArtifact from a path source', () => {
  let work: string;
  let dataDir: string;
  let root: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'aicloud-artifact-store-'));
    dataDir = join(work, 'data');
    root = join(work, 'imports');
    mkdirSync(join(root, 'model', 'sub'), { recursive: true });
    writeFileSync(join(root, 'model', 'config.json'), '{}');
    writeFileSync(join(root, 'model', 'sub', 'weights.bin'), 'weights');
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  const store = (requireOthersReadable: boolean) =>
    storeArtifact({
      dataDir,
      source: {
        kind: 'path',
        path: join(root, 'model'),
        roots: [root],
        forbidden: [dataDir],
        requireOthersReadable,
      },
    });

  it('refuses files and directories other users cannot read when the server reads with more rights', async () => {
    chmodSync(join(root, 'model', 'sub', 'weights.bin'), 0o600);
    await expect(store(true)).rejects.toMatchObject({
      code: 'forbidden',
      details: { rule: 'path-source-readable-by-others', path: 'sub/weights.bin' },
    });
    chmodSync(join(root, 'model', 'sub', 'weights.bin'), 0o644);
    chmodSync(join(root, 'model', 'sub'), 0o700);
    await expect(store(true)).rejects.toMatchObject({
      code: 'forbidden',
      details: { rule: 'path-source-readable-by-others', path: 'sub' },
    });
    expect(existsSync(join(dataDir, 'artifacts'))).toBe(false);
    chmodSync(join(root, 'model', 'sub'), 0o755);
    expect((await store(true)).scan.files.map((file) => file.path)).toEqual([
      'config.json',
      'sub/weights.bin',
    ]);
  });

  it('accepts a hard link whose every name lies inside the source, and refuses one with a name outside', async () => {
    linkSync(join(root, 'model', 'config.json'), join(root, 'model', 'sub', 'config.json'));
    const stored = await store(false);
    expect(stored.scan.files.map((file) => file.path)).toEqual([
      'config.json',
      'sub/config.json',
      'sub/weights.bin',
    ]);
    linkSync(join(root, 'model', 'sub', 'weights.bin'), join(work, 'elsewhere.bin'));
    await expect(store(false)).rejects.toMatchObject({
      code: 'forbidden',
      details: { rule: 'artifact-no-hard-links', path: 'sub/weights.bin' },
    });
    expect(readdirSync(join(dataDir, 'artifacts')).filter((name) => name.startsWith('.incoming'))).toEqual(
      [],
    );
  });
});
