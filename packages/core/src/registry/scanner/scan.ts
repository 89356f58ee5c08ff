import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { constants, inflateRawSync } from 'node:zlib';
import { type ByteSource, bufferSource, openFileSource } from './byte-source.ts';
import { classifyImport, type ImportClassification } from './classify.ts';
import { hasPickleMagic, type PickleParse, parsePickle, TEXT_OPCODES } from './pickle-parser.ts';
import { hasZipMagic, openZipEntry, readZipEntries, type ZipEntry } from './zip-reader.ts';

/** The outcome of a scan: `blocked` and `quarantined` versions never deploy; `needs_review` needs approval. */
export type ScanVerdict = 'passed' | 'needs_review' | 'blocked' | 'quarantined';

/** What a file is, judged by its content, never by its name. */
export type FileFormat = 'safetensors' | 'pickle' | 'zip-pickle' | 'other';

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
  /** The most bytes one compressed zip entry may inflate to (default 1 GiB). */
  maxInflateBytes?: number;
  /** How deep archives and embedded payloads may nest (default 4). */
  maxDepth?: number;
}

const SEVERITY: Record<ScanVerdict, number> = { passed: 0, needs_review: 1, quarantined: 2, blocked: 3 };
/** Names that say "pickle" (PyTorch and friends): if such a file does not parse, it is quarantined. */
const PICKLE_EXTENSIONS = /\.(bin|pt|pth|ckpt|pkl|pickle|joblib|pt2)$/i;
/** Weight formats that hold no pickle, recognised by their magic bytes (GGUF, GGML, NumPy, HDF5). */
const DATA_MAGICS = [
  'GGUF',
  'ggml',
  'ggjt',
  'ggmf',
  'lmgg',
  'tjgg',
  'fmgg',
  '\x93NUMPY',
  '\x89HDF\r\n\x1a\n',
].map((magic) => Buffer.from(magic, 'latin1'));
const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;
const MAX_SEGMENTS = 64;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_.]*$/;

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

/** The first bytes of a zip entry, inflating only as much as needed. */
function peekEntry(source: ByteSource, entry: ZipEntry): Buffer {
  const header = source.read(entry.localHeaderOffset, 30);
  if (header.length < 30) return Buffer.alloc(0);
  const dataStart = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  const chunk = source.read(dataStart, Math.min(entry.compressedSize, entry.method === 0 ? 16 : 4096));
  if (entry.method === 0) return chunk;
  if (entry.method !== 8) return Buffer.alloc(0);
  try {
    return inflateRawSync(chunk, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 1 << 16 }).subarray(
      0,
      16,
    );
  } catch {
    return Buffer.alloc(0);
  }
}

/** Scans a zip archive: every `.pkl` entry strictly, nested zips recursively, other entries by content. */
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
  for (const entry of entries) {
    if (entry.name.endsWith('/')) continue;
    const inner = `${prefix}${entry.name}`;
    const isPickleName = /\.pkl$/i.test(entry.name);
    let head: Buffer;
    try {
      head = peekEntry(source, entry);
    } catch {
      head = Buffer.alloc(0);
    }
    const isZip = hasZipMagic(head) || /\.zip$/i.test(entry.name);
    if (!isPickleName && !isZip && !hasPickleMagic(head)) {
      if (entry.method !== 0 && entry.method !== 8 && (entry.flags & 1) === 0)
        findings.problems.push(`${inner}: compression method ${entry.method} not inspected`);
      continue;
    }
    if (depth + 1 > options.maxDepth) {
      raise(findings, 'quarantined', `${inner}: nested deeper than ${options.maxDepth} levels`);
      continue;
    }
    let content: ByteSource;
    try {
      content = openZipEntry(source, entry, options.maxInflateBytes);
    } catch (error) {
      if (isPickleName || isZip) raise(findings, 'quarantined', `${inner}: ${(error as Error).message}`);
      continue;
    }
    if (isZip && hasZipMagic(content.read(0, 4))) {
      scanZip(context, content, inner, depth + 1);
    } else if (isPickleName) {
      findings.pickles.push(inner);
      scanPickleStream(context, content, inner, depth + 1, true);
    } else if (isZip) {
      raise(findings, 'quarantined', `${inner}: named like a zip archive but is not one`);
    } else if (scanPickleStream(context, content, inner, depth + 1, false)) {
      findings.pickles.push(inner);
    }
  }
}

/** Checks a safetensors header: JSON of tensors whose data offsets lie inside the file. */
function safetensorsProblems(source: ByteSource): string[] | null {
  if (source.size < 10) return null;
  const head = source.read(0, 9);
  const length = head.readBigUInt64LE(0);
  if (length < 2n || length > BigInt(Math.min(MAX_SAFETENSORS_HEADER, source.size - 8))) return null;
  if (head[8] !== 0x7b) return null;
  let header: unknown;
  try {
    header = JSON.parse(source.read(8, Number(length)).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  const dataSize = source.size - 8 - Number(length);
  const problems: string[] = [];
  for (const [name, tensor] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const spec = tensor as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const offsets = spec?.data_offsets;
    if (
      typeof spec?.dtype !== 'string' ||
      !Array.isArray(spec.shape) ||
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      typeof offsets[0] !== 'number' ||
      typeof offsets[1] !== 'number' ||
      offsets[0] > offsets[1] ||
      offsets[1] > dataSize
    ) {
      problems.push(`tensor '${name}' has an invalid header entry`);
      if (problems.length >= 5) break;
    }
  }
  return problems;
}

/** Scans one file's content (already open) and names its format. */
export function scanSource(
  source: ByteSource,
  path: string,
  options: ScanOptions = {},
): {
  format: FileFormat;
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
  const head = source.read(0, 16);
  let format: FileFormat = 'other';
  if (hasZipMagic(head)) {
    scanZip(context, source, undefined, 0);
    format = findings.pickles.length > 0 ? 'zip-pickle' : 'other';
  } else {
    const safetensors = safetensorsProblems(source);
    if (safetensors) {
      format = 'safetensors';
      for (const problem of safetensors) raise(findings, 'quarantined', problem);
    } else if (DATA_MAGICS.some((magic) => head.subarray(0, magic.length).equals(magic))) {
      format = 'other';
    } else if (hasPickleMagic(head) || PICKLE_EXTENSIONS.test(path)) {
      format = 'pickle';
      scanPickleStream(context, source, undefined, 0, true);
    } else if (head.length > 0 && (TEXT_OPCODES.has(String.fromCharCode(head[0]!)) || head[0] === 0x80)) {
      // A protocol 0/1 pickle under any name: it counts as one if it parses, or if it imports before failing.
      const parse = parsePickle(source, 0);
      if (parse.ok || plausibleImports(parse)) {
        format = 'pickle';
        scanPickleStream(context, source, undefined, 0, true);
      }
    } else if (/\.safetensors$/i.test(path)) {
      raise(findings, 'quarantined', 'named .safetensors but is not a valid safetensors file');
    }
  }
  if (format === 'other' && /\.safetensors$/i.test(path) && findings.verdict === 'passed')
    raise(findings, 'quarantined', 'named .safetensors but is not a valid safetensors file');
  if (context.options.trustRemoteCode && /\.py$/i.test(path))
    raise(findings, 'needs_review', 'Python code that runs on load with trust_remote_code');
  return { format, ...findings };
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
