import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanDirectory, scanFile } from './scan.ts';

/** One file of the corpus that `testing/make-corpus.py` writes. */
interface CorpusFile {
  path: string;
  name: string;
  /** `reject`: must never pass (most carry an os.system payload); `pass`: a benign file in a real format. */
  expect: 'reject' | 'pass';
  about: string;
  /** Carries a pickle, checked by the generator, that calls os.system when loaded. */
  payload: boolean;
}

/** Rejected files that are not blocked, and why: these cannot be opened or validated, so they need review. */
const NOT_BLOCKED: Record<string, string> = {
  'reject/zip-zstd-entry/model.zip': 'needs_review',
  'reject/unknown-binary/weights.dat': 'needs_review',
  'reject/hdf5/tf_model.h5': 'needs_review',
  'reject/truncated-gguf/model.gguf': 'quarantined',
  'reject/safetensors-trailing/model.safetensors': 'quarantined',
  'reject/onnx-external-data/model.onnx': 'needs_review',
  'reject/yaml-python-tag/config.yaml': 'needs_review',
  'reject/torchscript-code/model.pt': 'needs_review',
};

describe('scanner corpus (testing/make-corpus.py)', () => {
  // Generated at test time, by Debian's Python with its standard library only; nothing in it is ever loaded.
  const dir = mkdtempSync(join(tmpdir(), 'aicloud-scan-corpus-'));
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'testing', 'make-corpus.py'), dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CorpusFile[];
  const rejected = manifest.filter((file) => file.expect === 'reject');
  const passed = manifest.filter((file) => file.expect === 'pass');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds the malicious payloads of the report and benign files of every safe format', () => {
    expect(rejected.filter((file) => file.payload).map((file) => file.path)).toEqual(
      expect.arrayContaining([
        'reject/gguf-magic-pickle/pytorch_model.bin',
        'reject/object-npy/array.npy',
        'reject/prefixed-pickle/weights.data',
        'reject/gzip-pickle/model.pkl.gz',
        'reject/zip-protocol0-entry/model.zip',
        'reject/zip-bzip2-entry/model.zip',
      ]),
    );
    expect(passed.length).toBeGreaterThanOrEqual(20);
  });

  it.each(rejected.map((file) => [file.path, file] as const))('does not pass %s', async (_path, file) => {
    const scanned = await scanFile(join(dir, file.path), file.name);
    expect(scanned.verdict, `${file.about}: ${scanned.problems.join('; ')}`).not.toBe('passed');
    if (file.payload) {
      // The payload is opened and found (bzip2 and xz through Debian's binaries, present in CI).
      expect(scanned.verdict, file.about).toBe('blocked');
      expect(scanned.imports).toContainEqual(
        expect.objectContaining({ name: 'system', classification: 'dangerous' }),
      );
    } else {
      expect(scanned.verdict, file.about).toBe(NOT_BLOCKED[file.path]);
    }
  });

  it.each(passed.map((file) => [file.path, file] as const))('passes %s', async (_path, file) => {
    const scanned = await scanFile(join(dir, file.path), file.name);
    expect(scanned.problems, file.about).toEqual([]);
    expect(scanned.verdict, file.about).toBe('passed');
    expect(scanned.kind).not.toBe('unrecognised');
    expect(scanned.imports.every((found) => found.classification === 'allowed')).toBe(true);
  });

  it('judges a whole model directory by its worst file', async () => {
    expect((await scanDirectory(join(dir, 'pass'))).verdict).toBe('passed');
    expect((await scanDirectory(join(dir, 'reject'))).verdict).toBe('blocked');
  });
});
