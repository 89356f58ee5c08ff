import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { type ByteSource, bufferSource, openFileSource, sliceSource } from './byte-source.ts';
import { classifyImport, type ImportClassification } from './classify.ts';
import { type Compression, compressionOf, DecompressError, decompress } from './decompress.ts';
import {
  hasGgufMagic,
  hasNpyMagic,
  type Validation,
  validateGguf,
  validateNpy,
  validateOnnx,
  validateSafetensors,
  validateSentencePiece,
  validateText,
} from './formats.ts';
import { hasPickleMagic, type PickleParse, parsePickle } from './pickle-parser.ts';
import { hasZipMagic, openZipEntry, readZipEntries, type ZipEntry, ZipError } from './zip-reader.ts';

/** The outcome of a scan: `blocked` and `quarantined` versions never deploy; `needs_review` needs approval. */
export type ScanVerdict = 'passed' | 'needs_review' | 'blocked' | 'quarantined';

/** What a file is, judged by its content, never by its name. */
export type FileFormat = 'safetensors' | 'pickle' | 'zip-pickle' | 'other';

/**
 * What the scanner recognised a file (or archive entry) as. Only the validated safe formats, allow-listed
 * pickles and archives or compressed files holding only those can pass; `unrecognised` never does.
 */
export type ContentKind =
  | 'safetensors'
  | 'gguf'
  | 'onnx'
  | 'sentencepiece'
  | 'npy'
  | 'json'
  | 'text'
  | 'pickle'
  | 'zip'
  | Compression
  | 'hdf5'
  | 'ggml'
  | 'unrecognised';

/** One import a pickle makes, judged. */
export interface ScannedImport {
  module: string;
  name: string;
  classification: ImportClassification;
  reason: string;
  /** Where inside the file: a zip entry (`archive/data.pkl`, nested as `inner.zip!archive/data.pkl`). */
  entry?: string;
}

/** One file of a model, as scanned. */
export interface ScannedFile {
  path: string;
  sha256: string;
  size: number;
  format: FileFormat;
  /** What the content was recognised as (finer than `format`). */
  kind?: ContentKind;
  verdict: ScanVerdict;
  imports: ScannedImport[];
  problems: string[];
  /** The pickles parsed inside an archive (or embedded in bytes values). */
  pickles?: string[];
}

/** The scan of a whole model version. */
export interface ScanResult {
  verdict: ScanVerdict;
  files: ScannedFile[];
  /** True when the weights come as safetensors (which cannot run code on load). */
  safetensorsPreferred: boolean;
  /** Problems about the version as a whole (e.g. an artifact that could not be fetched). */
  problems: string[];
}

/** Limits and context of a scan. */
export interface ScanOptions {
  /** The version will run the model's own Python code: `.py` files then need review. */
  trustRemoteCode?: boolean;
  /** The most bytes one compressed file or zip entry may decompress to (default 1 GiB). */
  maxInflateBytes?: number;
  /** How deep archives, compressed wrappers and embedded payloads may nest (default 4). */
  maxDepth?: number;
}

const SEVERITY: Record<ScanVerdict, number> = { passed: 0, needs_review: 1, quarantined: 2, blocked: 3 };
/** Names that say "pickle" (PyTorch and friends): if such a file does not parse, it is quarantined. */
const PICKLE_EXTENSIONS = /\.(bin|pt|pth|ckpt|pkl|pickle|joblib|pt2)$/i;
/** Legacy llama.cpp containers (GGML, GGMF, GGJT, both byte orders): recognised, not validated. */
const GGML_MAGICS = ['ggml', 'ggjt', 'ggmf', 'lmgg', 'tjgg', 'fmgg'].map((magic) =>
  Buffer.from(magic, 'latin1'),
);
const HDF5_MAGIC = Buffer.from('\x89HDF\r\n\x1a\n', 'latin1');
/** Suffixes of compressed files: the name of what they hold is the name without it. */
const COMPRESSED_SUFFIX = /\.(gz|gzip|bz2|bzip2|xz)$/i;
const MAX_SEGMENTS = 64;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const RECOGNISED =
  'safetensors, GGUF, ONNX, SentencePiece, NumPy, JSON or text, an allow-listed pickle, or an archive of those';

/** The worst of several verdicts. */
export function worstVerdict(verdicts: Iterable<ScanVerdict>): ScanVerdict {
  let worst: ScanVerdict = 'passed';
  for (const verdict of verdicts) if (SEVERITY[verdict] > SEVERITY[worst]) worst = verdict;
  return worst;
}

interface Findings {
  imports: ScannedImport[];
  problems: string[];
  pickles: string[];
  verdict: ScanVerdict;
}

function newFindings(): Findings {
  return { imports: [], problems: [], pickles: [], verdict: 'passed' };
}

function raise(findings: Findings, verdict: ScanVerdict, problem?: string): void {
  findings.verdict = worstVerdict([findings.verdict, verdict]);
  if (problem) findings.problems.push(problem);
}

function addImports(findings: Findings, parse: PickleParse, entry: string | undefined): void {
  for (const found of parse.imports) {
    const judged = found.resolved
      ? classifyImport(found.module, found.name)
      : found.opcode === 'EXT'
        ? { classification: 'unknown' as const, reason: 'extension-registry code: the import is not named' }
        : {
            classification: 'dangerous' as const,
            reason: 'STACK_GLOBAL operands are computed at load time, not plain strings',
          };
    const exists = findings.imports.some(
      (known) => known.module === found.module && known.name === found.name && known.entry === entry,
    );
    if (!exists)
      findings.imports.push({
        module: found.module,
        name: found.name,
        classification: judged.classification,
        reason: judged.reason,
        ...(entry === undefined ? {} : { entry }),
      });
    if (judged.classification === 'dangerous') raise(findings, 'blocked');
    else if (judged.classification === 'unknown') raise(findings, 'needs_review');
  }
}

/** Whether parsed imports look like real Python names (a text file is not mistaken for a pickle). */
function plausibleImports(parse: PickleParse): boolean {
  return (
    parse.imports.length > 0 &&
    parse.imports.every(
      (found) => !found.resolved || (IDENTIFIER.test(found.module) && IDENTIFIER.test(found.name)),
    )
  );
}

/**
 * The imports of a pickle that failed to parse which the unpickler could still have run before failing:
 * those of a module that can exist (`find_class` imports it first), and those computed at load time.
 */
function reachableImports(parse: PickleParse): PickleParse {
  return {
    ...parse,
    imports: parse.imports.filter((found) => !found.resolved || IDENTIFIER.test(found.module)),
  };
}

interface Context {
  options: Required<ScanOptions>;
  findings: Findings;
}

/**
 * Parses the pickles of a stream one after another, as a legacy `torch.save` file holds several; stops at
 * trailing data that is not a pickle. `strict`: a first pickle that does not parse quarantines.
 */
function scanPickleStream(
  context: Context,
  source: ByteSource,
  label: string | undefined,
  depth: number,
  strict: boolean,
): boolean {
  const { findings } = context;
  let position = 0;
  let parsedAny = false;
  for (let segment = 0; segment < MAX_SEGMENTS && position < source.size; segment += 1) {
    const parse = parsePickle(source, position);
    const where = label ? `${label}: ` : '';
    if (parse.ok) {
      parsedAny = true;
      addImports(findings, parse, label);
      scanEmbedded(context, source, parse, label, depth);
      position = parse.end;
      continue;
    }
    if (segment === 0 && strict) {
      addImports(findings, parse, label);
      raise(findings, 'quarantined', `${where}cannot parse the pickle: ${parse.error}`);
      return true;
    }
    if (parse.imports.length > 0 && plausibleImports(parse)) {
      addImports(findings, parse, label);
      raise(findings, 'quarantined', `${where}pickle at byte ${position} does not parse: ${parse.error}`);
      return true;
    }
    break;
  }
  return parsedAny;
}

function scanEmbedded(
  context: Context,
  source: ByteSource,
  parse: PickleParse,
  label: string | undefined,
  depth: number,
): void {
  for (const payload of parse.embedded) {
    const inner = `${label ? `${label}!` : ''}bytes@${payload.offset}`;
    if (depth + 1 > context.options.maxDepth) {
      raise(
        context.findings,
        'quarantined',
        `${inner}: nested deeper than ${context.options.maxDepth} levels`,
      );
      continue;
    }
    if (payload.length > context.options.maxInflateBytes) {
      raise(
        context.findings,
        'quarantined',
        `${inner}: embedded payload of ${payload.length} bytes is over the limit`,
      );
      continue;
    }
    const bytes = Buffer.from(source.read(payload.offset, payload.length));
    const nested = bufferSource(bytes);
    if (hasZipMagic(bytes)) {
      scanZip(context, nested, inner, depth + 1);
    } else if (scanPickleStream(context, nested, inner, depth + 1, false)) {
      context.findings.pickles.push(inner);
    }
  }
}

/** The folders of a PyTorch zip checkpoint (those holding a `data.pkl`), each with a trailing slash or empty. */
function torchRoots(entries: ZipEntry[]): string[] {
  return entries
    .filter((entry) => entry.name === 'data.pkl' || entry.name.endsWith('/data.pkl'))
    .map((entry) => entry.name.slice(0, -'data.pkl'.length));
}

/** Whether an entry is a tensor storage of a PyTorch checkpoint: raw bytes that `torch.load` never unpickles. */
function isTorchStorage(name: string, roots: string[]): boolean {
  return roots.some((root) => name.startsWith(`${root}data/`) && !name.slice(root.length + 5).includes('/'));
}

/**
 * Scans a zip archive: every entry is opened (stored, deflate, bzip2, LZMA, xz) and judged by the same rules
 * as a file, nested archives included. Raw tensor storages of a PyTorch checkpoint are the one exception:
 * they are data that its `data.pkl` refers to, checked only for pickles hidden in them.
 */
function scanZip(context: Context, source: ByteSource, label: string | undefined, depth: number): void {
  const { findings, options } = context;
  const prefix = label ? `${label}!` : '';
  let entries: ZipEntry[];
  try {
    entries = readZipEntries(source);
  } catch (error) {
    raise(
      findings,
      'quarantined',
      `${label ?? 'archive'}: cannot read the zip archive: ${(error as Error).message}`,
    );
    return;
  }
  const roots = torchRoots(entries);
  for (const entry of entries) {
    if (entry.name.endsWith('/') && entry.size === 0 && entry.compressedSize === 0) continue;
    const inner = `${prefix}${entry.name}`;
    if (depth + 1 > options.maxDepth) {
      raise(findings, 'quarantined', `${inner}: nested deeper than ${options.maxDepth} levels`);
      continue;
    }
    let content: ByteSource;
    try {
      content = openZipEntry(source, entry, options.maxInflateBytes);
    } catch (error) {
      const reason = error instanceof ZipError ? error.reason : 'malformed';
      const message = (error as Error).message;
      const detail = message.startsWith(entry.name)
        ? message.slice(entry.name.length).replace(/^:?\s*/, '')
        : message;
      raise(
        findings,
        reason === 'unsupported' ? 'needs_review' : 'quarantined',
        `${inner}: ${detail}${reason === 'unsupported' ? ': not inspected, needs review' : ''}`,
      );
      continue;
    }
    if (/\.py$/i.test(entry.name)) {
      raise(
        findings,
        'needs_review',
        `${inner}: Python code inside an archive (TorchScript or torch.package runs it)`,
      );
      continue;
    }
    if (isTorchStorage(entry.name, roots)) {
      if (scanPickleStream(context, content, inner, depth + 1, false)) findings.pickles.push(inner);
      continue;
    }
    scanContent(context, content, inner, entry.name, depth + 1);
  }
}

/** Opens a gzip, bzip2 or xz file and scans what it holds under its name without the suffix. */
function scanCompressed(
  context: Context,
  source: ByteSource,
  kind: Compression,
  label: string | undefined,
  name: string,
  depth: number,
): void {
  const { findings, options } = context;
  const where = label ? `${label}: ` : '';
  const innerName = COMPRESSED_SUFFIX.test(name) ? name.replace(COMPRESSED_SUFFIX, '') : `${name}#${kind}`;
  const inner = label ? `${label}!${innerName.split('/').at(-1)}` : innerName;
  if (depth + 1 > options.maxDepth) {
    raise(findings, 'quarantined', `${where}nested deeper than ${options.maxDepth} levels`);
    return;
  }
  if (source.size > options.maxInflateBytes) {
    raise(findings, 'quarantined', `${where}${kind} data of ${source.size} bytes is over the limit`);
    return;
  }
  let content: Buffer;
  try {
    content = decompress(kind, Buffer.from(source.read(0, source.size)), options.maxInflateBytes);
  } catch (error) {
    if (!(error instanceof DecompressError)) throw error;
    if (error.reason === 'unavailable')
      raise(findings, 'needs_review', `${where}${error.message}: needs review`);
    else raise(findings, 'quarantined', `${where}cannot decompress: ${error.message}`);
    return;
  }
  scanContent(context, bufferSource(content), inner, innerName, depth + 1);
}

/** Applies a format validation: valid passes, malformed quarantines, unvalidated variants need review. */
function settle(findings: Findings, validation: Validation, where: string): void {
  if (validation.status === 'invalid')
    for (const problem of validation.problems) raise(findings, 'quarantined', `${where}${problem}`);
  else if (validation.status === 'unsupported')
    raise(findings, 'needs_review', `${where}${validation.problem}: needs review`);
}

/**
 * Scans one piece of content (a file, an archive entry, a decompressed payload) and says what it was.
 * The allow-list: it passes only as a validated safe format, an archive or compressed file of those, or a
 * pickle whose every import is allowed. Whatever else it is needs review (or is quarantined when it claims
 * a format by its name or magic and is malformed, or blocked for a dangerous import).
 */
function scanContent(
  context: Context,
  source: ByteSource,
  label: string | undefined,
  name: string,
  depth: number,
): ContentKind {
  const { findings } = context;
  const where = label ? `${label}: ` : '';
  const head = source.read(0, 16);
  const kind = recognise();
  if (/\.safetensors$/i.test(name) && kind !== 'safetensors' && kind !== 'pickle')
    raise(findings, 'quarantined', `${where}named .safetensors but is not a valid safetensors file`);
  if (/\.gguf$/i.test(name) && kind !== 'gguf' && kind !== 'pickle')
    raise(findings, 'quarantined', `${where}named .gguf but is not a valid GGUF file`);
  return kind;

  function recognise(): ContentKind {
    // Archives and compressed wrappers: opened, and what they hold judged by the same rules.
    if (hasZipMagic(head)) {
      scanZip(context, source, label, depth);
      return 'zip';
    }
    const compression = compressionOf(head);
    if (compression) {
      scanCompressed(context, source, compression, label, name, depth);
      return compression;
    }
    // What pickle.load would do with these bytes from the first one, whatever the name or magic says.
    const probe = parsePickle(source, 0);
    if (probe.ok) {
      scanPickleStream(context, source, label, depth, true);
      if (label) findings.pickles.push(label);
      return 'pickle';
    }
    const reachable = reachableImports(probe);
    if (reachable.imports.length > 0) {
      addImports(findings, reachable, label);
      const claimed = hasPickleMagic(head) || PICKLE_EXTENSIONS.test(name);
      raise(
        findings,
        claimed ? 'quarantined' : 'needs_review',
        `${where}cannot parse the pickle: ${probe.error} (after importing ${reachable.imports
          .map((found) => `${found.module}.${found.name}`)
          .join(', ')})`,
      );
      if (label) findings.pickles.push(label);
      return 'pickle';
    }
    // The safe formats, each validated in full.
    const safetensors = validateSafetensors(source);
    if (safetensors.status !== 'no') {
      settle(findings, safetensors, where);
      return 'safetensors';
    }
    if (hasGgufMagic(head)) {
      settle(findings, validateGguf(source), where);
      return 'gguf';
    }
    if (hasNpyMagic(head)) {
      const npy = validateNpy(source);
      if (npy.status === 'pickle') {
        const payload = sliceSource(source, npy.pickleAt, source.size - npy.pickleAt);
        const inner = `${label ? `${label}!` : ''}npy-object-data`;
        findings.pickles.push(inner);
        scanPickleStream(context, payload, inner, depth + 1, true);
      } else settle(findings, npy, where);
      return 'npy';
    }
    if (head.subarray(0, HDF5_MAGIC.length).equals(HDF5_MAGIC)) {
      raise(
        findings,
        'needs_review',
        `${where}HDF5 file (Keras models can carry code): not validated, needs review`,
      );
      return 'hdf5';
    }
    if (GGML_MAGICS.some((magic) => head.subarray(0, 4).equals(magic))) {
      raise(findings, 'needs_review', `${where}legacy GGML container: not validated, needs review`);
      return 'ggml';
    }
    const onnx = validateOnnx(source);
    if (onnx.status !== 'no') {
      settle(findings, onnx, where);
      return 'onnx';
    }
    if (validateSentencePiece(source).status === 'valid') return 'sentencepiece';
    const text = validateText(source, name);
    if (text.status !== 'no') {
      settle(findings, text, where);
      return text.json || /\.json$/i.test(name) ? 'json' : 'text';
    }
    // Nothing recognised: never passed.
    if (/\.(safetensors|gguf)$/i.test(name)) return 'unrecognised';
    if (hasPickleMagic(head) || PICKLE_EXTENSIONS.test(name))
      raise(findings, 'quarantined', `${where}cannot parse the pickle: ${probe.error}`);
    else raise(findings, 'needs_review', `${where}not a recognised format (${RECOGNISED}): needs review`);
    return 'unrecognised';
  }
}

function formatOf(kind: ContentKind, findings: Findings): FileFormat {
  if (kind === 'safetensors' || kind === 'pickle') return kind;
  if (kind === 'zip') return findings.pickles.length > 0 ? 'zip-pickle' : 'other';
  if (kind === 'npy' || kind === 'gzip' || kind === 'bzip2' || kind === 'xz')
    return findings.pickles.length > 0 ? 'pickle' : 'other';
  return 'other';
}

/** Scans one file's content (already open) and names its format. */
export function scanSource(
  source: ByteSource,
  path: string,
  options: ScanOptions = {},
): {
  format: FileFormat;
  kind: ContentKind;
  verdict: ScanVerdict;
  imports: ScannedImport[];
  problems: string[];
  pickles: string[];
} {
  const context: Context = {
    options: {
      trustRemoteCode: options.trustRemoteCode ?? false,
      maxInflateBytes: options.maxInflateBytes ?? 1024 ** 3,
      maxDepth: options.maxDepth ?? 4,
    },
    findings: newFindings(),
  };
  const { findings } = context;
  const kind = scanContent(context, source, undefined, path, 0);
  if (context.options.trustRemoteCode && /\.py$/i.test(path))
    raise(findings, 'needs_review', 'Python code that runs on load with trust_remote_code');
  return { format: formatOf(kind, findings), kind, ...findings };
}

/** Scans bytes in memory as the file `path`. */
export function scanBytes(path: string, bytes: Uint8Array, options: ScanOptions = {}): ScannedFile {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { path, sha256, size: bytes.byteLength, ...scanSource(bufferSource(bytes), path, options) };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Scans one file on disk; `path` is the name it is reported under. */
export async function scanFile(
  absolutePath: string,
  path: string,
  options: ScanOptions = {},
): Promise<ScannedFile> {
  const sha256 = await sha256File(absolutePath);
  const source = openFileSource(absolutePath);
  try {
    return { path, sha256, size: source.size, ...scanSource(source, path, options) };
  } finally {
    source.close();
  }
}

/** Regular files under a directory (following links), as POSIX paths relative to it, sorted. */
export function listFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (current: string, depth: number) => {
    if (depth > 32) throw new Error(`directory nesting deeper than 32 at ${current}`);
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      const stats = statSync(full);
      if (stats.isDirectory()) walk(full, depth + 1);
      else if (stats.isFile()) found.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir, 0);
  return found.sort();
}

/** Sums file scans into a version's verdict. */
export function summarizeScan(
  files: ScannedFile[],
  problems: string[] = [],
  floor: ScanVerdict = 'passed',
): ScanResult {
  return {
    verdict: worstVerdict([floor, ...files.map((file) => file.verdict)]),
    files,
    safetensorsPreferred: files.some((file) => file.format === 'safetensors'),
    problems,
  };
}

/** Scans every file of a model directory. */
export async function scanDirectory(dir: string, options: ScanOptions = {}): Promise<ScanResult> {
  const files: ScannedFile[] = [];
  for (const path of listFiles(dir)) files.push(await scanFile(join(dir, path), path, options));
  return summarizeScan(files);
}
