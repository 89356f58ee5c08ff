import type { ByteSource } from './byte-source.ts';

/**
 * The validators of the formats a model file may pass as: each says whether the bytes are that format
 * (`no`), are it and parse in full (`valid`), claim to be it but are malformed (`invalid`: quarantine), or
 * are it in a variant not validated here (`unsupported`: a person must look).
 */
export type Validation =
  | { status: 'valid' }
  | { status: 'no'; why?: string }
  | { status: 'invalid'; problems: string[] }
  | { status: 'unsupported'; problem: string };

const VALID: Validation = { status: 'valid' };
const NO: Validation = { status: 'no' };

class FormatError extends Error {}

const WINDOW = 1 << 20;

/** Sequential little-endian reads over a source through a window, bounded by `end`. */
class Cursor {
  private windowStart = 0;
  private window: Buffer = Buffer.alloc(0);

  constructor(
    private readonly source: ByteSource,
    public pos = 0,
    public end = source.size,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  bytes(length: number, what: string): Buffer {
    if (length > this.remaining) throw new FormatError(`${what} overruns the data (${length} bytes)`);
    if (length > WINDOW) {
      const direct = this.source.read(this.pos, length);
      this.pos += length;
      return direct;
    }
    if (this.pos < this.windowStart || this.pos + length > this.windowStart + this.window.length) {
      this.windowStart = this.pos;
      this.window = this.source.read(this.pos, Math.max(length, WINDOW));
    }
    const start = this.pos - this.windowStart;
    this.pos += length;
    return this.window.subarray(start, start + length);
  }

  skip(length: number, what: string): void {
    if (length > this.remaining) throw new FormatError(`${what} overruns the data (${length} bytes)`);
    this.pos += length;
  }

  u8(what: string): number {
    return this.bytes(1, what)[0]!;
  }

  u32(what: string): number {
    return this.bytes(4, what).readUInt32LE(0);
  }

  u64(what: string): number {
    const value = this.bytes(8, what).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${what} is too large (${value})`);
    return Number(value);
  }

  /** A protobuf base-128 varint (up to 64 bits), as a number when it fits, else as a bigint. */
  varint(what: string): number | bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.u8(what);
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (shift === 63n && byte > 1) throw new FormatError(`${what}: varint longer than 64 bits`);
        return result <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(result) : result;
      }
    }
    throw new FormatError(`${what}: varint longer than 10 bytes`);
  }
}

// ------------------------------------------------------------------------------------------------
// safetensors

/** Bits per element of every safetensors dtype. */
const SAFETENSORS_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  F64: 64,
  I64: 64,
  U64: 64,
  C64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};
const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * A safetensors file: an 8-byte little-endian header length, a JSON header (`{` first) of tensors with
 * known dtypes, shapes and `data_offsets` whose sizes match and which tile the data section exactly, in
 * order, from its start to the end of the file (as the `safetensors` library checks).
 */
export function validateSafetensors(source: ByteSource): Validation {
  if (source.size < 10) return NO;
  const head = source.read(0, 9);
  const length = head.readBigUInt64LE(0);
  if (head[8] !== 0x7b || length < 2n || length > BigInt(source.size - 8)) return NO;
  if (length > BigInt(MAX_SAFETENSORS_HEADER))
    return { status: 'invalid', problems: [`safetensors header of ${length} bytes is over 100 MiB`] };
  const headerLength = Number(length);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(source.read(8, headerLength));
    header = JSON.parse(text);
  } catch (error) {
    return { status: 'no', why: `safetensors header is not UTF-8 JSON (${(error as Error).message})` };
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return { status: 'no', why: 'safetensors header is not a JSON object' };
  const dataSize = source.size - 8 - headerLength;
  const problems: string[] = [];
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (problems.length >= 5) break;
    if (name === '__metadata__') {
      if (
        typeof value !== 'object' ||
        value === null ||
        Array.isArray(value) ||
        Object.values(value).some((entry) => typeof entry !== 'string')
      )
        problems.push('__metadata__ is not a map of strings');
      continue;
    }
    const spec = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const bits = typeof spec?.dtype === 'string' ? SAFETENSORS_BITS[spec.dtype] : undefined;
    const shape = spec?.shape;
    const offsets = spec?.data_offsets;
    if (bits === undefined) {
      problems.push(`tensor '${name}' has an unknown dtype`);
      continue;
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      problems.push(`tensor '${name}' has an invalid shape`);
      continue;
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !isCount(offsets[0]) ||
      !isCount(offsets[1]) ||
      offsets[0] > offsets[1]
    ) {
      problems.push(`tensor '${name}' has invalid data_offsets`);
      continue;
    }
    const elementBits = shape.reduce((total: bigint, dim: number) => total * BigInt(dim), 1n) * BigInt(bits);
    if (elementBits % 8n !== 0n || elementBits / 8n !== BigInt(offsets[1] - offsets[0])) {
      problems.push(`tensor '${name}': ${offsets[1] - offsets[0]} bytes do not hold its dtype and shape`);
      continue;
    }
    spans.push({ name, begin: offsets[0], end: offsets[1] });
  }
  if (problems.length === 0) {
    spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
    let at = 0;
    for (const span of spans) {
      if (span.begin !== at) {
        problems.push(
          `tensor '${span.name}' starts at ${span.begin}, not at ${at}: tensors must be contiguous`,
        );
        break;
      }
      at = span.end;
    }
    if (problems.length === 0 && at !== dataSize)
      problems.push(`tensors cover ${at} bytes of a ${dataSize}-byte data section`);
  }
  return problems.length > 0 ? { status: 'invalid', problems } : VALID;
}

// ------------------------------------------------------------------------------------------------
// GGUF

/** GGML tensor types: [elements per block, bytes per block] (llama.cpp's `GGML_QUANT_SIZES`). */
const GGML_TYPES: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4],
  1: [1, 2],
  2: [32, 18],
  3: [32, 20],
  6: [32, 22],
  7: [32, 24],
  8: [32, 34],
  9: [32, 36],
  10: [256, 84],
  11: [256, 110],
  12: [256, 144],
  13: [256, 176],
  14: [256, 210],
  15: [256, 292],
  16: [256, 66],
  17: [256, 74],
  18: [256, 98],
  19: [256, 50],
  20: [32, 18],
  21: [256, 110],
  22: [256, 82],
  23: [256, 136],
  24: [1, 1],
  25: [1, 2],
  26: [1, 4],
  27: [1, 8],
  28: [1, 8],
  29: [256, 56],
  30: [1, 2],
  34: [256, 54],
  35: [256, 66],
  39: [32, 17],
  40: [64, 36],
  41: [128, 18],
  42: [64, 18],
};
/** Bytes of the GGUF scalar value types (8 string and 9 array are variable). */
const GGUF_SCALARS: Readonly<Record<number, number>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};
const GGML_MAX_DIMS = 4;
const GGML_MAX_NAME = 64;

export function hasGgufMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46;
}

/**
 * A GGUF file (versions 1 to 3, little-endian): every metadata value and tensor description parses within
 * the file, tensor types are known, offsets are aligned and contiguous as llama.cpp requires, and the
 * data section ends where the file does.
 */
export function validateGguf(source: ByteSource): Validation {
  const cursor = new Cursor(source, 4);
  try {
    const version = cursor.u32('GGUF version');
    if (version < 1 || version > 3)
      return { status: 'unsupported', problem: `GGUF version ${version} (or big-endian) is not validated` };
    const count = (what: string) => (version === 1 ? cursor.u32(what) : cursor.u64(what));
    const string = (what: string): Buffer => cursor.bytes(count(`${what} length`), what);
    const tensorCount = count('tensor count');
    const kvCount = count('metadata count');
    // Each metadata pair takes at least 13 bytes and each tensor description at least 24.
    if (kvCount * 13 > cursor.remaining || tensorCount * 24 > cursor.remaining)
      throw new FormatError(`${tensorCount} tensors and ${kvCount} metadata pairs cannot fit in the file`);
    const value = (type: number, what: string, depth: number): void => {
      const scalar = GGUF_SCALARS[type];
      if (scalar !== undefined) cursor.skip(scalar, what);
      else if (type === 8) string(what);
      else if (type === 9) {
        if (depth > 3) throw new FormatError(`${what}: arrays nested too deep`);
        const itemType = cursor.u32(`${what} item type`);
        const items = count(`${what} item count`);
        const itemSize = GGUF_SCALARS[itemType];
        if (itemSize !== undefined) cursor.skip(items * itemSize, what);
        else if (itemType === 8 || itemType === 9) {
          if (items * 8 > cursor.remaining) throw new FormatError(`${what}: ${items} items overrun the file`);
          for (let index = 0; index < items; index += 1) value(itemType, what, depth + 1);
        } else throw new FormatError(`${what}: unknown array item type ${itemType}`);
      } else throw new FormatError(`${what}: unknown value type ${type}`);
    };
    let alignment = 32;
    const keys = new Set<string>();
    for (let index = 0; index < kvCount; index += 1) {
      const key = string(`metadata key ${index}`).toString('utf8');
      if (keys.has(key)) throw new FormatError(`duplicate metadata key '${key}'`);
      keys.add(key);
      const type = cursor.u32(`type of '${key}'`);
      if (key === 'general.alignment') {
        if (type !== 4) throw new FormatError('general.alignment is not a uint32');
        alignment = cursor.u32('general.alignment');
        if (alignment === 0 || (alignment & (alignment - 1)) !== 0)
          throw new FormatError(`alignment ${alignment} is not a power of two`);
      } else value(type, `'${key}'`, 0);
    }
    const padded = (size: bigint) =>
      ((size + BigInt(alignment) - 1n) / BigInt(alignment)) * BigInt(alignment);
    const names = new Set<string>();
    const tensors: { name: string; offset: number; bytes: bigint }[] = [];
    for (let index = 0; index < tensorCount; index += 1) {
      const nameBytes = string(`tensor ${index} name`);
      const name = nameBytes.toString('utf8');
      if (nameBytes.length >= GGML_MAX_NAME) throw new FormatError(`tensor name '${name}' is too long`);
      if (names.has(name)) throw new FormatError(`duplicate tensor '${name}'`);
      names.add(name);
      const dims = cursor.u32(`tensor '${name}' dimensions`);
      if (dims > GGML_MAX_DIMS) throw new FormatError(`tensor '${name}' has ${dims} dimensions`);
      const shape: bigint[] = [];
      for (let dim = 0; dim < dims; dim += 1)
        shape.push(cursor.bytes(8, `tensor '${name}' shape`).readBigUInt64LE(0));
      const type = cursor.u32(`tensor '${name}' type`);
      const offset = cursor.u64(`tensor '${name}' offset`);
      const layout = GGML_TYPES[type];
      if (!layout)
        return {
          status: 'unsupported',
          problem: `GGUF tensor '${name}' has GGML type ${type}, not validated`,
        };
      const [block, blockBytes] = layout;
      const first = shape[0] ?? 1n;
      if (shape.some((dim) => dim > BigInt(Number.MAX_SAFE_INTEGER)) || first % BigInt(block) !== 0n)
        throw new FormatError(`tensor '${name}' shape does not fit its type`);
      const bytes = shape
        .slice(1)
        .reduce((total, dim) => total * dim, (first / BigInt(block)) * BigInt(blockBytes));
      tensors.push({ name, offset, bytes });
    }
    const infoEnd = BigInt(cursor.pos);
    const dataStart = padded(infoEnd);
    let expected = 0n;
    let lastPad = 0n;
    for (const tensor of tensors) {
      if (BigInt(tensor.offset) !== expected)
        throw new FormatError(`tensor '${tensor.name}' is at offset ${tensor.offset}, expected ${expected}`);
      expected += padded(tensor.bytes);
      lastPad = padded(tensor.bytes) - tensor.bytes;
    }
    const size = BigInt(source.size);
    const shortest = tensors.length > 0 ? dataStart + expected - lastPad : infoEnd;
    const longest = dataStart + expected;
    if (size < shortest) throw new FormatError(`tensor data needs ${shortest} bytes, the file has ${size}`);
    if (size > longest) throw new FormatError(`${size - longest} bytes follow the tensor data`);
    return VALID;
  } catch (error) {
    if (error instanceof FormatError)
      return { status: 'invalid', problems: [`invalid GGUF: ${error.message}`] };
    throw error;
  }
}

// ------------------------------------------------------------------------------------------------
// NumPy .npy

export function hasNpyMagic(head: Uint8Array): boolean {
  return Buffer.from(head.subarray(0, 6)).equals(Buffer.from('\x93NUMPY', 'latin1'));
}

const NPY_HEADER =
  /^\{\s*'descr':\s*'([^'\\]*)',\s*'fortran_order':\s*(True|False),\s*'shape':\s*\(([0-9,\sL]*)\),?\s*\}\s*$/;
const NPY_DESCR = /^[<>|=]?([biufcSUVMmO])(\d*)(\[[A-Za-z0-9]+\])?$/;

/**
 * A `.npy` array. A plain dtype is valid when its header parses and the data is exactly the array's bytes;
 * an object dtype is a pickle (`numpy.load(allow_pickle=True)` unpickles it): `pickleAt` says where.
 */
export function validateNpy(source: ByteSource): Validation | { status: 'pickle'; pickleAt: number } {
  const head = source.read(0, 12);
  if (head.length < 10) return { status: 'invalid', problems: ['truncated .npy header'] };
  const major = head[6]!;
  if (major < 1 || major > 3)
    return { status: 'unsupported', problem: `.npy version ${major} is not validated` };
  const prefix = major === 1 ? 10 : 12;
  if (head.length < prefix) return { status: 'invalid', problems: ['truncated .npy header'] };
  const headerLength = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const dataStart = prefix + headerLength;
  if (dataStart > source.size) return { status: 'invalid', problems: ['.npy header overruns the file'] };
  const text = source.read(prefix, headerLength).toString(major === 3 ? 'utf8' : 'latin1');
  const match = NPY_HEADER.exec(text);
  if (!match)
    return { status: 'unsupported', problem: `.npy header is not a simple array header: ${text.trim()}` };
  const descr = NPY_DESCR.exec(match[1]!);
  if (!descr) return { status: 'unsupported', problem: `.npy dtype '${match[1]}' is not validated` };
  if (descr[1] === 'O') return { status: 'pickle', pickleAt: dataStart };
  const dims = match[3]!
    .split(',')
    .map((dim) => dim.trim().replace(/L$/, ''))
    .filter((dim) => dim !== '');
  if (!dims.every((dim) => /^\d+$/.test(dim)))
    return { status: 'invalid', problems: [`.npy shape '${match[3]}' is invalid`] };
  const count = dims.reduce((total, dim) => total * BigInt(dim), 1n);
  const width = BigInt(descr[2] || (descr[1] === 'M' || descr[1] === 'm' ? '8' : '0'));
  const itemSize = descr[1] === 'U' ? width * 4n : width;
  if (itemSize === 0n && descr[1] !== 'S' && descr[1] !== 'V')
    return { status: 'unsupported', problem: `.npy dtype '${match[1]}' has no item size` };
  const expected = count * itemSize;
  if (BigInt(source.size - dataStart) !== expected)
    return {
      status: 'invalid',
      problems: [`.npy data is ${source.size - dataStart} bytes, its header says ${expected}`],
    };
  return VALID;
}

// ------------------------------------------------------------------------------------------------
// Protobuf: ONNX and SentencePiece models

type Wire = 0 | 1 | 2 | 5;

interface FieldSpec {
  wire: Wire;
  /** A repeated scalar that may come packed (wire type 2). */
  packed?: boolean;
  /** A nested message, walked with its own schema. */
  message?: () => Schema;
  /** Marks the walk when the field is present (with a non-zero value for varints). */
  flag?: string;
}

interface Schema {
  name: string;
  fields: Readonly<Record<number, FieldSpec>>;
}

const LEN: FieldSpec = { wire: 2 };
const VARINT: FieldSpec = { wire: 0 };
const FIXED32: FieldSpec = { wire: 5 };
const PACKED_VARINT: FieldSpec = { wire: 0, packed: true };
const PACKED_FIXED32: FieldSpec = { wire: 5, packed: true };
const PACKED_FIXED64: FieldSpec = { wire: 1, packed: true };
const message = (schema: () => Schema): FieldSpec => ({ wire: 2, message: schema });

const ONNX_TENSOR: Schema = {
  name: 'TensorProto',
  fields: {
    1: PACKED_VARINT,
    2: VARINT,
    3: LEN,
    4: PACKED_FIXED32,
    5: PACKED_VARINT,
    6: LEN,
    7: PACKED_VARINT,
    8: LEN,
    9: LEN,
    10: PACKED_FIXED64,
    11: PACKED_VARINT,
    12: LEN,
    13: { wire: 2, flag: 'external-data' },
    14: { wire: 0, flag: 'external-data' },
    16: LEN,
  },
};
const ONNX_SPARSE: Schema = {
  name: 'SparseTensorProto',
  fields: { 1: message(() => ONNX_TENSOR), 2: message(() => ONNX_TENSOR), 3: PACKED_VARINT },
};
const ONNX_ATTRIBUTE: Schema = {
  name: 'AttributeProto',
  fields: {
    1: LEN,
    2: FIXED32,
    3: VARINT,
    4: LEN,
    5: message(() => ONNX_TENSOR),
    6: message(() => ONNX_GRAPH),
    7: PACKED_FIXED32,
    8: PACKED_VARINT,
    9: LEN,
    10: message(() => ONNX_TENSOR),
    11: message(() => ONNX_GRAPH),
    13: LEN,
    14: LEN,
    15: LEN,
    20: VARINT,
    21: LEN,
    22: message(() => ONNX_SPARSE),
    23: message(() => ONNX_SPARSE),
  },
};
const ONNX_NODE: Schema = {
  name: 'NodeProto',
  fields: {
    1: LEN,
    2: LEN,
    3: LEN,
    4: LEN,
    5: message(() => ONNX_ATTRIBUTE),
    6: LEN,
    7: LEN,
    8: LEN,
    9: LEN,
    10: LEN,
  },
};
const ONNX_GRAPH: Schema = {
  name: 'GraphProto',
  fields: {
    1: message(() => ONNX_NODE),
    2: LEN,
    5: message(() => ONNX_TENSOR),
    10: LEN,
    11: LEN,
    12: LEN,
    13: LEN,
    14: LEN,
    15: message(() => ONNX_SPARSE),
    16: LEN,
  },
};
const ONNX_FUNCTION: Schema = {
  name: 'FunctionProto',
  fields: {
    1: LEN,
    4: LEN,
    5: LEN,
    6: LEN,
    7: message(() => ONNX_NODE),
    8: LEN,
    9: LEN,
    10: LEN,
    11: LEN,
    12: LEN,
    13: LEN,
    14: LEN,
  },
};
const ONNX_MODEL: Schema = {
  name: 'ModelProto',
  fields: {
    1: VARINT,
    2: LEN,
    3: LEN,
    4: LEN,
    5: VARINT,
    6: LEN,
    7: message(() => ONNX_GRAPH),
    8: LEN,
    14: LEN,
    20: message(() => ({
      name: 'TrainingInfoProto',
      fields: { 1: message(() => ONNX_GRAPH), 2: message(() => ONNX_GRAPH), 3: LEN, 4: LEN },
    })),
    25: message(() => ONNX_FUNCTION),
    26: LEN,
    30: LEN,
  },
};
const SENTENCEPIECE_MODEL: Schema = {
  name: 'sentencepiece.ModelProto',
  fields: {
    1: message(() => ({ name: 'SentencePiece', fields: { 1: LEN, 2: FIXED32, 3: VARINT } })),
    2: LEN,
    3: LEN,
    4: LEN,
    5: LEN,
  },
};

const MAX_MESSAGE_DEPTH = 32;

/**
 * Walks a protobuf message against a schema: every field is known with its wire type, every length lies
 * within its parent, nested messages are walked in turn, and the message ends exactly at `end`.
 */
function walkMessage(
  cursor: Cursor,
  end: number,
  schema: Schema,
  depth: number,
  flags: Set<string>,
  seen?: Set<number>,
): void {
  if (depth > MAX_MESSAGE_DEPTH) throw new FormatError(`messages nested deeper than ${MAX_MESSAGE_DEPTH}`);
  const limit = cursor.end;
  cursor.end = end;
  try {
    while (cursor.pos < end) {
      const tag = cursor.varint(`${schema.name} tag`);
      if (typeof tag !== 'number' || tag > 0xffffffff) throw new FormatError(`${schema.name}: invalid tag`);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      const spec = schema.fields[field];
      if (!spec) throw new FormatError(`${schema.name}: unknown field ${field} (wire type ${wire})`);
      if (wire !== spec.wire && !(spec.packed && wire === 2))
        throw new FormatError(`${schema.name}: field ${field} has wire type ${wire}, expected ${spec.wire}`);
      seen?.add(field);
      if (wire === 0) {
        const value = cursor.varint(`${schema.name} field ${field}`);
        if (spec.flag && value !== 0) flags.add(spec.flag);
      } else if (wire === 1) cursor.skip(8, `${schema.name} field ${field}`);
      else if (wire === 5) cursor.skip(4, `${schema.name} field ${field}`);
      else {
        const length = cursor.varint(`${schema.name} field ${field} length`);
        if (typeof length !== 'number' || length > cursor.remaining)
          throw new FormatError(`${schema.name}: field ${field} overruns its message`);
        if (spec.flag) flags.add(spec.flag);
        if (spec.message) walkMessage(cursor, cursor.pos + length, spec.message(), depth + 1, flags);
        else cursor.skip(length, `${schema.name} field ${field}`);
      }
    }
  } finally {
    cursor.end = limit;
  }
}

function walkTop(source: ByteSource, schema: Schema): { seen: Set<number>; flags: Set<string> } | string {
  const cursor = new Cursor(source);
  const seen = new Set<number>();
  const flags = new Set<string>();
  try {
    walkMessage(cursor, source.size, schema, 0, flags, seen);
    return { seen, flags };
  } catch (error) {
    if (error instanceof FormatError) return error.message;
    throw error;
  }
}

/**
 * An ONNX model: a protobuf `ModelProto` with an IR version and a graph, whose graph, nodes, attributes
 * and tensors walk cleanly. Tensors kept in external files are not inspected here, so they need review.
 */
export function validateOnnx(source: ByteSource): Validation {
  if (source.size < 4) return NO;
  const walked = walkTop(source, ONNX_MODEL);
  if (typeof walked === 'string') return { status: 'no', why: walked };
  if (!walked.seen.has(1) || !walked.seen.has(7))
    return { status: 'no', why: 'ModelProto without ir_version or graph' };
  if (walked.flags.has('external-data'))
    return {
      status: 'unsupported',
      problem: 'ONNX model with tensor data in external files (not inspected)',
    };
  return VALID;
}

/** A SentencePiece model (`tokenizer.model`): a protobuf `ModelProto` with at least one piece. */
export function validateSentencePiece(source: ByteSource): Validation {
  if (source.size < 4) return NO;
  const walked = walkTop(source, SENTENCEPIECE_MODEL);
  if (typeof walked === 'string') return { status: 'no', why: walked };
  return walked.seen.has(1) ? VALID : { status: 'no', why: 'SentencePiece model without pieces' };
}

// ------------------------------------------------------------------------------------------------
// Text and JSON

const MAX_JSON = 256 * 1024 * 1024;
/** YAML tags that make PyYAML's unsafe loaders build Python objects (and call them). */
const YAML_PYTHON_TAG = /!!python\/|tag:yaml\.org,2002:python\//;

/** Whether a byte may appear in a text file: printable, or tab, newline, form feed, carriage return. */
function textByte(byte: number): boolean {
  return byte >= 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d;
}

/**
 * A text file: valid UTF-8 with no control characters besides tab, newline, form feed and carriage
 * return. A `.json` file must also parse as JSON. YAML tags for Python objects need review.
 */
export function validateText(source: ByteSource, name: string): Validation & { json?: boolean } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const isJson = /\.json$/i.test(name);
  const parts: string[] = [];
  let tail = '';
  try {
    for (let offset = 0; offset < source.size; offset += WINDOW) {
      const chunk = source.read(offset, WINDOW);
      for (const byte of chunk) if (!textByte(byte)) return { status: 'no', why: 'not text' };
      const text = decoder.decode(chunk, { stream: true });
      if (YAML_PYTHON_TAG.test(tail + text))
        return {
          status: 'unsupported',
          problem: 'YAML tag for a Python object (unsafe YAML loaders run it)',
        };
      tail = text.slice(-32);
      if (isJson && source.size <= MAX_JSON) parts.push(text);
    }
    parts.push(decoder.decode());
  } catch {
    return { status: 'no', why: 'not valid UTF-8' };
  }
  if (!isJson) return VALID;
  if (source.size > MAX_JSON) return { status: 'unsupported', problem: 'JSON file too large to validate' };
  try {
    JSON.parse(parts.join(''));
  } catch (error) {
    return { status: 'unsupported', problem: `named .json but not valid JSON (${(error as Error).message})` };
  }
  return { status: 'valid', json: true };
}
