import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferSource } from './byte-source.ts';
import { classifyImport } from './classify.ts';
import { parsePickle } from './pickle-parser.ts';
import { scanBytes, scanDirectory } from './scan.ts';
import { pythonCorpus } from './testing/python-corpus.ts';
import { readZipEntries } from './zip-reader.ts';

/** Bytes from a mix of strings (latin-1) and byte arrays, to write pickles by hand. */
function bytes(...parts: (string | number[] | Uint8Array)[]): Buffer {
  return Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))),
  );
}

const shortUnicode = (text: string) => bytes([0x8c, text.length], text);

/** A valid safetensors file: 8-byte little-endian header length, JSON header, tensor data. */
function safetensors(): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      __metadata__: { format: 'pt' },
      'layer.weight': { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    }),
  );
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(8)]);
}

/** A minimal zip (stored entries) written by hand, for archives Python is not asked to make. */
function storedZip(entries: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

describe('pickle parser', () => {
  it('resolves STACK_GLOBAL operands pushed directly and through MEMOIZE/BINGET/LONG_BINGET', () => {
    const direct = bytes([0x80, 4], shortUnicode('os'), shortUnicode('system'), [0x93], '.');
    expect(parsePickle(bufferSource(direct)).imports).toMatchObject([{ module: 'os', name: 'system' }]);
    // Strings memoized first, the import made later from the memo only.
    const memoized = bytes(
      [0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0],
      shortUnicode('posix'),
      [0x94],
      shortUnicode('system'),
      [0x94, 0x30, 0x30],
      'h',
      [0],
      'j',
      [1, 0, 0, 0],
      [0x93],
      '.',
    );
    const parse = parsePickle(bufferSource(memoized));
    expect(parse.ok).toBe(true);
    expect(parse.imports).toMatchObject([{ module: 'posix', name: 'system', opcode: 'STACK_GLOBAL' }]);
    // PUT/GET (protocol 0 text) and BINUNICODE/BINUNICODE8/UNICODE/STRING variants.
    const text = bytes("S'subprocess'\np0\n0Vcheck_output\np1\n0g0\ng1\n", [0x93], '.');
    expect(parsePickle(bufferSource(text)).imports).toMatchObject([
      { module: 'subprocess', name: 'check_output' },
    ]);
    const wide = bytes(
      [0x80, 4],
      'X',
      [7, 0, 0, 0],
      'builtin',
      [0x8d, 4, 0, 0, 0, 0, 0, 0, 0],
      'exec',
      [0x93],
      '.',
    );
    expect(parsePickle(bufferSource(wide)).imports).toMatchObject([{ module: 'builtin', name: 'exec' }]);
  });

  it('records INST, OBJ and EXT imports and errors on unknown opcodes, truncation and underflow', () => {
    const inst = parsePickle(bufferSource(bytes("(S'id'\nios\nsystem\n.")));
    expect(inst.ok).toBe(true);
    expect(inst.imports).toMatchObject([{ module: 'os', name: 'system', opcode: 'INST' }]);
    const ext = parsePickle(bufferSource(bytes([0x80, 2, 0x82, 7], '.')));
    expect(ext.imports).toMatchObject([{ opcode: 'EXT', name: 'ext:7', resolved: false }]);
    expect(parsePickle(bufferSource(bytes([0x80, 2, 0xff])))).toMatchObject({ ok: false });
    expect(parsePickle(bufferSource(bytes([0x80, 2], 'X', [50, 0, 0, 0], 'abc'))).error).toMatch(/truncated/);
    expect(parsePickle(bufferSource(bytes([0x80, 2], 'R.'))).error).toMatch(/underflow/);
    expect(parsePickle(bufferSource(bytes([0x80, 9], 'N.'))).error).toMatch(/protocol/);
    expect(parsePickle(bufferSource(bytes([0x80, 2], 'h', [3], '.'))).error).toMatch(/memo/);
    // Imports made before the error are still reported: the unpickler runs them as it goes.
    const partial = parsePickle(bufferSource(bytes('cos\nsystem\n', [0xff])));
    expect(partial.ok).toBe(false);
    expect(partial.imports).toMatchObject([{ module: 'os', name: 'system' }]);
  });
});

describe('import classification', () => {
  it('allows what checkpoints need, blocks the dangerous, and leaves the rest for review', () => {
    for (const [module, name] of [
      ['torch._utils', '_rebuild_tensor_v2'],
      ['torch._utils', '_rebuild_parameter'],
      ['torch', 'BFloat16Storage'],
      ['collections', 'OrderedDict'],
      ['numpy.core.multiarray', '_reconstruct'],
      ['_codecs', 'encode'],
      ['__builtin__', 'set'],
      ['torch', 'Size'],
    ] as const)
      expect(classifyImport(module, name).classification, `${module}.${name}`).toBe('allowed');
    for (const [module, name] of [
      ['os', 'system'],
      ['posix', 'system'],
      ['nt', 'system'],
      ['subprocess', 'Popen'],
      ['builtins', 'eval'],
      ['__builtin__', 'eval'],
      ['builtins', 'getattr'],
      ['runpy', '_run_code'],
      ['operator', 'attrgetter'],
      ['torch', 'os.system'],
      ['collections', 'OrderedDict.__init__.__globals__'],
      ['commands', 'getoutput'],
      ['numpy.testing._private.utils', 'runstring'],
    ] as const)
      expect(classifyImport(module, name).classification, `${module}.${name}`).toBe('dangerous');
    expect(classifyImport('torch.storage', '_load_from_bytes').classification).toBe('unknown');
    expect(classifyImport('argparse', 'Namespace').classification).toBe('unknown');
  });
});

describe('model scanner', () => {
  let corpus: Record<string, Buffer>;
  let dir: string;
  beforeAll(() => {
    corpus = pythonCorpus();
    dir = mkdtempSync(join(tmpdir(), 'aicloud-scan-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([0, 1, 2, 3, 4, 5])('passes a benign state dict pickled with protocol %i', (protocol) => {
    const file = scanBytes('pytorch_model.bin', corpus[`benign_p${protocol}`]!);
    expect(file.problems).toEqual([]);
    expect(file).toMatchObject({ format: 'pickle', verdict: 'passed' });
    expect(file.imports.map((found) => `${found.module}.${found.name}`)).toEqual(
      expect.arrayContaining(['collections.OrderedDict', 'torch.FloatStorage']),
    );
    expect(file.imports.every((found) => found.classification === 'allowed')).toBe(true);
  });

  it.each([
    ['os_system_global', 'os.system'],
    ['os_system_stack_global_memo', 'posix.system'],
    ['builtins_eval', '__builtin__.eval'],
    ['builtins_eval_p4', 'builtins.eval'],
    ['posix_system', 'posix.system'],
    ['subprocess_popen', 'subprocess.Popen'],
    ['runpy_run_code', 'runpy._run_code'],
  ])('blocks %s', (name, expected) => {
    const file = scanBytes('model.pt', corpus[name]!);
    expect(file.verdict).toBe('blocked');
    expect(file.imports).toContainEqual(
      expect.objectContaining({
        module: expected.slice(0, expected.lastIndexOf('.')),
        name: expected.slice(expected.lastIndexOf('.') + 1),
        classification: 'dangerous',
      }),
    );
  });

  it('needs review for an import outside both lists, and for EXT codes', () => {
    expect(scanBytes('model.pkl', corpus.unknown_import!)).toMatchObject({
      verdict: 'needs_review',
      imports: expect.arrayContaining([
        expect.objectContaining({ module: 'collections', name: 'namedtuple' }),
      ]),
    });
    expect(scanBytes('model.pkl', bytes([0x80, 2, 0x82, 1], '.')).verdict).toBe('needs_review');
  });

  it('blocks a STACK_GLOBAL whose operands are computed at load time', () => {
    // builtins.str(...) result used as the module name: not a plain string in the stream.
    const computed = bytes(
      [0x80, 4],
      shortUnicode('builtins'),
      shortUnicode('str'),
      [0x93],
      shortUnicode('os'),
      [0x85],
      'R',
      shortUnicode('system'),
      [0x93],
      '.',
    );
    const file = scanBytes('weights.bin', computed);
    expect(file.verdict).toBe('blocked');
    expect(file.imports).toContainEqual(
      expect.objectContaining({ module: '?', classification: 'dangerous' }),
    );
  });

  it('scans every pickle inside PyTorch zip archives, stored or deflated, benign or malicious', () => {
    for (const name of ['torch_zip_benign', 'torch_zip_benign_deflated']) {
      const file = scanBytes('pytorch_model.bin', corpus[name]!);
      expect(file, name).toMatchObject({
        format: 'zip-pickle',
        verdict: 'passed',
        pickles: ['archive/data.pkl'],
      });
      expect(file.problems).toEqual([]);
    }
    const malicious = scanBytes('model.pt', corpus.torch_zip_malicious!);
    expect(malicious).toMatchObject({ format: 'zip-pickle', verdict: 'blocked' });
    expect(malicious.imports).toContainEqual(
      expect.objectContaining({ module: 'posix', name: 'system', entry: 'archive/data.pkl' }),
    );
  });

  it('finds a malicious pickle in a zip nested inside a zip, and in a zip inside a pickle bytes value', () => {
    const nested = scanBytes('bundle.zip', corpus.nested_zip_malicious!);
    expect(nested.verdict).toBe('blocked');
    expect(nested.imports).toContainEqual(
      expect.objectContaining({ name: 'system', entry: 'checkpoints/model.pt!archive/data.pkl' }),
    );
    const twice = storedZip({
      'outer/inner.zip': corpus.nested_zip_malicious!,
      'outer/readme.txt': Buffer.from('hi'),
    });
    expect(scanBytes('outer.zip', twice).verdict).toBe('blocked');
    // A torch.storage._load_from_bytes payload: a pickle carried as a BINBYTES value.
    const payload = corpus.posix_system!;
    const carrier = bytes([0x80, 3], 'ctorch.storage\n_load_from_bytes\n', 'B', [
      payload.length & 0xff,
      (payload.length >> 8) & 0xff,
      0,
      0,
    ]);
    const file = scanBytes('model.bin', Buffer.concat([carrier, payload, bytes([0x85], 'R.')]));
    expect(file.verdict).toBe('blocked');
    expect(file.imports.map((found) => found.name)).toEqual(['_load_from_bytes', 'system']);
  });

  it('judges by content, not by name: renamed pickles and zips are found', () => {
    expect(scanBytes('model.safetensors', corpus.posix_system!)).toMatchObject({
      format: 'pickle',
      verdict: 'blocked',
    });
    expect(scanBytes('notes.txt', corpus.os_system_global!)).toMatchObject({
      format: 'pickle',
      verdict: 'blocked',
    });
    expect(scanBytes('weights.dat.txt', corpus.torch_zip_malicious!)).toMatchObject({
      format: 'zip-pickle',
      verdict: 'blocked',
    });
    expect(scanBytes('README.md', Buffer.from('In this model card we describe...\n'))).toMatchObject({
      format: 'other',
      verdict: 'passed',
    });
    // GGUF and SentencePiece pass only when they parse to the end; a bare magic or a broken protobuf does not.
    const key = Buffer.from('general.name');
    const gguf = bytes('GGUF', [3, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]);
    const kv = bytes([key.length, 0, 0, 0, 0, 0, 0, 0], key, [8, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0], 'x');
    expect(scanBytes('ggml-model.bin', Buffer.concat([gguf, kv]))).toMatchObject({
      format: 'other',
      kind: 'gguf',
      verdict: 'passed',
    });
    expect(scanBytes('ggml-model.bin', Buffer.from('GGUF\x03\x00\x00\x00rest', 'latin1')).verdict).toBe(
      'quarantined',
    );
    const piece = bytes([0x0a, 5], '<unk>', [0x15, 0, 0, 0, 0, 0x18, 2]);
    expect(scanBytes('tokenizer.model', bytes([0x0a, piece.length], piece))).toMatchObject({
      kind: 'sentencepiece',
      verdict: 'passed',
    });
    expect(scanBytes('tokenizer.model', Buffer.from([0x0a, 0x0b, 0x0a, 0x05])).verdict).toBe('needs_review');
    expect(scanBytes('config.json', Buffer.from('{"hidden_size": 8}'))).toMatchObject({
      format: 'other',
      verdict: 'passed',
    });
  });

  it('quarantines what it cannot parse: truncated pickles, garbage named like weights, broken archives', () => {
    const benign = corpus.benign_p2!;
    const truncated = scanBytes('pytorch_model.bin', benign.subarray(0, benign.length / 2));
    expect(truncated.verdict).toBe('quarantined');
    expect(truncated.problems.join()).toMatch(/cannot parse/);
    expect(scanBytes('model.ckpt', Buffer.from([0x00, 0x01, 0x02, 0x03])).verdict).toBe('quarantined');
    expect(scanBytes('model.safetensors', Buffer.from('not really')).verdict).toBe('quarantined');
    const archive = corpus.torch_zip_benign!;
    expect(scanBytes('model.pt', archive.subarray(0, archive.length - 30)).verdict).toBe('quarantined');
    const brokenInner = storedZip({ 'archive/data.pkl': benign.subarray(0, 20) });
    expect(scanBytes('model.pt', brokenInner).verdict).toBe('quarantined');
  });

  it('passes a valid safetensors file and prefers it', async () => {
    const file = scanBytes('model.safetensors', safetensors());
    expect(file).toMatchObject({ format: 'safetensors', verdict: 'passed', imports: [], problems: [] });
    const model = join(dir, 'st');
    mkdirSync(join(model, 'sub'), { recursive: true });
    writeFileSync(join(model, 'model.safetensors'), safetensors());
    writeFileSync(join(model, 'config.json'), '{}');
    writeFileSync(join(model, 'sub', 'modeling.py'), 'print("hi")\n');
    const result = await scanDirectory(model);
    expect(result).toMatchObject({ verdict: 'passed', safetensorsPreferred: true });
    expect(result.files.map((entry) => entry.path)).toEqual([
      'config.json',
      'model.safetensors',
      'sub/modeling.py',
    ]);
    expect(result.files[1]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await scanDirectory(model, { trustRemoteCode: true })).verdict).toBe('needs_review');
  });

  it('reads every pickle of a legacy torch.save stream and stops at the raw storage bytes', () => {
    expect(scanBytes('pytorch_model.bin', corpus.legacy_torch!)).toMatchObject({
      format: 'pickle',
      verdict: 'passed',
      problems: [],
    });
    // A dangerous pickle appended after the first one is still found.
    const appended = Buffer.concat([corpus.benign_p2!, corpus.subprocess_popen!]);
    expect(scanBytes('pytorch_model.bin', appended).verdict).toBe('blocked');
  });

  it('reads zip central directories, including one written by hand', () => {
    const archive = storedZip({ 'a/data.pkl': Buffer.from('N.'), 'a/data/0': Buffer.alloc(4) });
    expect(readZipEntries(bufferSource(archive)).map((entry) => entry.name)).toEqual([
      'a/data.pkl',
      'a/data/0',
    ]);
    expect(scanBytes('x.pt', archive)).toMatchObject({ format: 'zip-pickle', verdict: 'passed' });
  });

  it('passes only what it validates in full: broken safetensors, JSON and arrays do not pass', () => {
    const header = (spec: object) => {
      const text = Buffer.from(JSON.stringify(spec));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(text.length));
      return Buffer.concat([length, text]);
    };
    const f32 = (offsets: number[]) => ({ dtype: 'F32', shape: [2], data_offsets: offsets });
    for (const [about, file] of [
      [
        'unknown dtype',
        Buffer.concat([header({ w: { dtype: 'X9', shape: [2], data_offsets: [0, 8] } }), Buffer.alloc(8)]),
      ],
      ['size not matching the shape', Buffer.concat([header({ w: f32([0, 4]) }), Buffer.alloc(4)])],
      [
        'a gap between tensors',
        Buffer.concat([header({ a: f32([0, 8]), b: f32([12, 20]) }), Buffer.alloc(20)]),
      ],
      ['overlapping tensors', Buffer.concat([header({ a: f32([0, 8]), b: f32([4, 12]) }), Buffer.alloc(12)])],
      ['offsets past the end', Buffer.concat([header({ w: f32([0, 8]) }), Buffer.alloc(4)])],
      [
        'metadata that is not strings',
        Buffer.concat([header({ __metadata__: { n: 1 }, w: f32([0, 8]) }), Buffer.alloc(8)]),
      ],
    ] as const)
      expect(scanBytes('model.safetensors', file).verdict, about).toBe('quarantined');
    expect(scanBytes('config.json', Buffer.from('{"hidden_size": 8,')).verdict).toBe('needs_review');
    expect(scanBytes('notes.txt', Buffer.from([0x68, 0x69, 0x00, 0x01]))).toMatchObject({
      kind: 'unrecognised',
      verdict: 'needs_review',
    });
    const npy = (descr: string, shape: string, data: Buffer) => {
      const text = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`.padEnd(117, ' ');
      return Buffer.concat([bytes('\x93NUMPY', [1, 0, 118, 0], `${text}\n`), data]);
    };
    expect(scanBytes('a.npy', npy('<f4', '(2,)', Buffer.alloc(8)))).toMatchObject({
      kind: 'npy',
      verdict: 'passed',
    });
    expect(scanBytes('a.npy', npy('<f4', '(3,)', Buffer.alloc(8))).verdict).toBe('quarantined');
    expect(scanBytes('a.npy', npy('|O', '(1,)', corpus.posix_system!)).verdict).toBe('blocked');
  });

  it('opens compressed files and every zip entry, and does not pass what it cannot open', () => {
    expect(scanBytes('model.pkl.gz', gzipSync(corpus.posix_system!))).toMatchObject({
      kind: 'gzip',
      format: 'pickle',
      verdict: 'blocked',
      pickles: ['model.pkl'],
    });
    expect(scanBytes('state.gz', gzipSync(corpus.benign_p4!))).toMatchObject({ verdict: 'passed' });
    // Over the decompression limit, or broken: quarantined.
    const big = gzipSync(Buffer.alloc(1 << 20));
    expect(scanBytes('big.gz', big, { maxInflateBytes: 1 << 16 }).verdict).toBe('quarantined');
    expect(scanBytes('bad.gz', big.subarray(0, 40)).verdict).toBe('quarantined');
    // Too deep: a gzip in a gzip in a gzip ... past maxDepth.
    let nested = Buffer.from('N.');
    for (let level = 0; level < 6; level += 1) nested = gzipSync(nested);
    expect(scanBytes('deep.gz', nested).verdict).toBe('quarantined');
    // An encrypted entry cannot be read: it needs review. A local header naming another file is quarantined.
    const archive = storedZip({ 'a.pkl': Buffer.from('N.') });
    const encrypted = Buffer.from(archive);
    encrypted.writeUInt16LE(1, 30 + 5 + 2 + 8);
    expect(scanBytes('x.zip', encrypted)).toMatchObject({ verdict: 'needs_review' });
    const renamed = Buffer.from(archive);
    renamed[30] = 'b'.charCodeAt(0);
    expect(scanBytes('x.zip', renamed).verdict).toBe('quarantined');
    // An entry of no recognised format is not passed just because the archive is.
    expect(scanBytes('x.zip', storedZip({ 'blob.dat': Buffer.from([0, 1, 2, 3, 4]) })).verdict).toBe(
      'needs_review',
    );
  });

  it('follows the unpickler on number forms it accepts, so text pickles are not taken for plain text', () => {
    for (const prefix of ['Np1_0\n0', 'F1e1_0\n0', 'I 0x1F\n0', 'Np +2 \n0g 2\n0'])
      expect(scanBytes('notes.txt', Buffer.from(`${prefix}cos\nsystem\n(S'id'\ntR.`)).verdict, prefix).toBe(
        'blocked',
      );
    // Plain text that merely starts with opcode letters stays text.
    for (const text of [
      'Note: fp16 weights\n',
      'import torch\n',
      'class Tiny:\n  pass\n',
      'Copyright 2024\n',
    ])
      expect(scanBytes('notes.txt', Buffer.from(text)), text).toMatchObject({
        kind: 'text',
        verdict: 'passed',
      });
  });
});
