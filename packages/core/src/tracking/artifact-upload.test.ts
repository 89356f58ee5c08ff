import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AppError } from '../app-error.ts';
import { writeRunArtifact } from './artifact-upload.ts';

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error.details?.mlflowCode;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** A body of `count` chunks of `size` bytes, produced as it is read (never held whole). */
function body(count: number, size: number) {
  return Readable.from(
    (function* () {
      for (let index = 0; index < count; index++) yield Buffer.alloc(size, index % 251);
    })(),
  );
}

describe('writeRunArtifact', () => {
  it('streams a file into nested directories of the run’s root and replaces it whole', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'aicloud-upload-')), 'artifacts');
    const written = await writeRunArtifact({
      root,
      path: 'model/sub/w.bin',
      body: body(64, 1024),
      maxBytes: 1 << 20,
    });
    expect(written).toEqual({ path: 'model/sub/w.bin', bytes: 65536 });
    expect(readFileSync(join(root, 'model/sub/w.bin')).length).toBe(65536);
    await writeRunArtifact({
      root,
      path: './model/sub/w.bin',
      body: Readable.from([Buffer.from('v2')]),
      maxBytes: 10,
    });
    expect(readFileSync(join(root, 'model/sub/w.bin'), 'utf8')).toBe('v2');
    expect(readdirSync(join(root, 'model/sub'))).toEqual(['w.bin']);
  });

  it('refuses a path out of the root, through a link, or onto a directory', async () => {
    const base = mkdtempSync(join(tmpdir(), 'aicloud-upload-'));
    const root = join(base, 'artifacts');
    mkdirSync(join(root, 'dir'), { recursive: true });
    mkdirSync(join(base, 'outside'));
    symlinkSync(join(base, 'outside'), join(root, 'link'));
    const one = () => Readable.from([Buffer.from('x')]);
    for (const path of [
      '../escape.txt',
      '/etc/passwd',
      'a/../../escape.txt',
      'link/planted.txt',
      'dir',
      '',
      'a\0b',
    ])
      expect(await codeOf(writeRunArtifact({ root, path, body: one(), maxBytes: 10 }))).toBe(
        'INVALID_PARAMETER_VALUE',
      );
    expect(readdirSync(join(base, 'outside'))).toEqual([]);
    expect(existsSync(join(base, 'escape.txt'))).toBe(false);
  });

  it('refuses a file over the cap, announced or not, and leaves nothing behind', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'aicloud-upload-')), 'artifacts');
    expect(
      await codeOf(
        writeRunArtifact({ root, path: 'big.bin', body: body(1, 10), maxBytes: 100, declaredBytes: 101 }),
      ),
    ).toBe('INVALID_PARAMETER_VALUE');
    // A body longer than it said: counted as it arrives, refused at the first byte past the cap.
    expect(await codeOf(writeRunArtifact({ root, path: 'big.bin', body: body(20, 10), maxBytes: 100 }))).toBe(
      'INVALID_PARAMETER_VALUE',
    );
    expect(readdirSync(root)).toEqual([]);
    // Exactly at the cap is allowed.
    expect((await writeRunArtifact({ root, path: 'big.bin', body: body(10, 10), maxBytes: 100 })).bytes).toBe(
      100,
    );
  });
});
