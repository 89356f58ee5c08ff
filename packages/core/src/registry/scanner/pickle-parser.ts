import type { ByteSource } from './byte-source.ts';

/** An import a pickle makes: the unpickler calls `find_class(module, name)` for it. */
export interface PickleImport {
  module: string;
  name: string;
  /** The opcode that imports it; `EXT` is an extension-registry code (module and name unknown). */
  opcode: 'GLOBAL' | 'INST' | 'STACK_GLOBAL' | 'EXT';
  /** Byte offset of the opcode in the source. */
  offset: number;
  /** False when STACK_GLOBAL's operands are not strings known before loading (computed at load time). */
  resolved: boolean;
}

/** A bytes value inside the pickle that itself looks like a pickle or a zip (a nested payload). */
export interface EmbeddedPayload {
  offset: number;
  length: number;
}

/** What parsing one pickle found, up to its STOP or up to the first error. */
export interface PickleParse {
  /** Whether the pickle parsed completely up to its STOP opcode. */
  ok: boolean;
  /** Why it did not (unknown opcode, truncated data, stack underflow, …). */
  error: string | null;
  /** The protocol announced by PROTO, or 0 when there is none. */
  protocol: number;
  /** Every import, in order, including those before an error (the unpickler runs them as it goes). */
  imports: PickleImport[];
  embedded: EmbeddedPayload[];
  /** Number of opcodes read. */
  opcodes: number;
  /** Where the pickle started and where parsing stopped (just after STOP when ok). */
  start: number;
  end: number;
}

const HIGHEST_PROTOCOL = 5;
const MAX_NAME = 1 << 20;
const WINDOW = 1 << 20;

class ParseError extends Error {}

type Value = { t: 'str'; v: string } | { t: 'global'; module: string; name: string } | { t: 'other' };
const OTHER: Value = { t: 'other' };

/** Sequential reads over a source through a window, so a huge file is never held whole. */
class Reader {
  pos: number;
  private windowStart = 0;
  private window: Buffer = Buffer.alloc(0);

  constructor(
    private readonly source: ByteSource,
    start: number,
  ) {
    this.pos = start;
  }

  private ensure(offset: number, length: number): void {
    if (offset >= this.windowStart && offset + length <= this.windowStart + this.window.length) return;
    this.windowStart = offset;
    this.window = this.source.read(offset, Math.max(length, WINDOW));
  }

  get remaining(): number {
    return this.source.size - this.pos;
  }

  bytes(length: number, what: string): Buffer {
    if (length > this.remaining) throw new ParseError(`truncated: ${what} needs ${length} bytes`);
    this.ensure(this.pos, length);
    const start = this.pos - this.windowStart;
    this.pos += length;
    return this.window.subarray(start, start + length);
  }

  skip(length: number, what: string): void {
    if (length > this.remaining) throw new ParseError(`truncated: ${what} needs ${length} bytes`);
    this.pos += length;
  }

  byte(what: string): number {
    return this.bytes(1, what)[0]!;
  }

  /** A `\n`-terminated line without its newline; long lines are skipped and answered as null. */
  line(what: string): Buffer | null {
    const start = this.pos;
    let offset = start;
    for (;;) {
      if (offset >= this.source.size) throw new ParseError(`truncated: ${what} has no end of line`);
      this.ensure(offset, Math.min(WINDOW, this.source.size - offset));
      const from = offset - this.windowStart;
      const newline = this.window.indexOf(0x0a, from);
      if (newline >= 0) {
        const end = this.windowStart + newline;
        this.pos = end + 1;
        if (end - start > MAX_NAME) return null;
        return Buffer.from(this.source.read(start, end - start));
      }
      offset = this.windowStart + this.window.length;
    }
  }

  /** Bounded little-endian unsigned integer of `size` bytes (1, 2, 4 or 8). */
  uint(size: 1 | 2 | 4 | 8, what: string): number {
    const bytes = this.bytes(size, what);
    if (size === 1) return bytes.readUInt8(0);
    if (size === 2) return bytes.readUInt16LE(0);
    if (size === 4) return bytes.readUInt32LE(0);
    const value = bytes.readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ParseError(`${what} is too large`);
    return Number(value);
  }

  int4(what: string): number {
    return this.bytes(4, what).readInt32LE(0);
  }
}

function looksNested(head: Buffer): boolean {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04)
    return true;
  return head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= HIGHEST_PROTOCOL;
}

/** Python's `codecs.escape_decode` (the STRING opcode's argument), decoded as latin-1. */
function escapeDecode(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|[\s\S])/g, (match, sequence: string) => {
    if (sequence[0] === 'x') return String.fromCharCode(Number.parseInt(sequence.slice(1), 16));
    if (/^[0-7]/.test(sequence)) return String.fromCharCode(Number.parseInt(sequence, 8) & 0xff);
    const simple: Record<string, string> = {
      '\\': '\\',
      "'": "'",
      '"': '"',
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\n': '',
    };
    return simple[sequence] ?? match;
  });
}

/** Python's `raw-unicode-escape` decoding (the UNICODE opcode's argument). */
function rawUnicodeEscape(bytes: Buffer): string {
  return bytes
    .toString('latin1')
    .replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_match, short?: string, long?: string) => {
      const code = Number.parseInt((short ?? long)!, 16);
      return code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
    });
}

const INT_LINE = /^\s*[+-]?[0-9A-Za-z_]+L?\s*$/;
/** What `float()` accepts (the pure-Python unpickler, as joblib uses, allows underscores anywhere `float` does). */
const FLOAT_LINE = /^\s*[+-]?((\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d[\d_]*)?|inf|infinity|nan)\s*$/i;
/** What `int(text)` accepts for GET and PUT: signs, surrounding whitespace and digit-group underscores. */
const MEMO_LINE = /^\s*[+-]?\d[\d_]*\s*$/;

/**
 * Parses one pickle opcode by opcode without running it, simulating the stack and memo just enough to
 * resolve what STACK_GLOBAL imports. Protocols 0 to 5; mirrors CPython's unpickler on what is an error.
 */
export function parsePickle(source: ByteSource, start = 0): PickleParse {
  const reader = new Reader(source, start);
  const imports: PickleImport[] = [];
  const embedded: EmbeddedPayload[] = [];
  let stack: Value[] = [];
  const metastack: Value[][] = [];
  const memo = new Map<number, Value>();
  let protocol = 0;
  let opcodes = 0;

  const pop = (): Value => {
    const value = stack.pop();
    if (!value) throw new ParseError('unpickling stack underflow');
    return value;
  };
  const top = (): Value => {
    const value = stack.at(-1);
    if (!value) throw new ParseError('unpickling stack underflow');
    return value;
  };
  const popMark = (): Value[] => {
    const items = stack;
    const previous = metastack.pop();
    if (!previous) throw new ParseError('could not find MARK');
    stack = previous;
    return items;
  };
  const decodeName = (bytes: Buffer | null, what: string): string => {
    if (bytes === null) throw new ParseError(`${what} is longer than ${MAX_NAME} bytes`);
    return bytes.toString('utf8');
  };
  const pushString = (length: number, decode: (bytes: Buffer) => string, what: string) => {
    if (length > MAX_NAME) {
      reader.skip(length, what);
      stack.push(OTHER);
      return;
    }
    stack.push({ t: 'str', v: decode(reader.bytes(length, what)) });
  };
  const pushBytes = (length: number, what: string) => {
    const offset = reader.pos;
    if (length > reader.remaining) throw new ParseError(`truncated: ${what} needs ${length} bytes`);
    if (length >= 8 && looksNested(source.read(offset, 4))) embedded.push({ offset, length });
    reader.skip(length, what);
    stack.push(OTHER);
  };
  const memoGet = (index: number): void => {
    const value = memo.get(index);
    if (!value) throw new ParseError(`memo value not found at index ${index}`);
    stack.push(value);
  };
  const memoPut = (index: number): void => {
    if (index < 0) throw new ParseError('negative PUT argument');
    memo.set(index, top());
  };
  const lineNumber = (what: string): number => {
    const text = reader.line(what)?.toString('latin1') ?? '';
    if (!MEMO_LINE.test(text)) throw new ParseError(`${what}: invalid literal '${text.slice(0, 40)}'`);
    return Number.parseInt(text.replace(/_/g, ''), 10);
  };
  const addImport = (module: string, name: string, opcode: PickleImport['opcode'], offset: number) => {
    imports.push({ module, name, opcode, offset, resolved: true });
  };

  try {
    for (;;) {
      const offset = reader.pos;
      const code = reader.byte('opcode');
      opcodes += 1;
      const op = String.fromCharCode(code);
      switch (op) {
        case '\x80': {
          protocol = reader.byte('PROTO');
          if (protocol > HIGHEST_PROTOCOL) throw new ParseError(`unsupported pickle protocol: ${protocol}`);
          break;
        }
        case '\x95': {
          const length = reader.uint(8, 'FRAME');
          if (length > reader.remaining) throw new ParseError(`truncated: FRAME of ${length} bytes`);
          break;
        }
        case '.': {
          pop();
          return {
            ok: true,
            error: null,
            protocol,
            imports,
            embedded,
            opcodes,
            start,
            end: reader.pos,
          };
        }
        case '(':
          metastack.push(stack);
          stack = [];
          break;
        case '0':
          if (stack.length > 0) stack.pop();
          else popMark();
          break;
        case '1':
          popMark();
          break;
        case '2':
          stack.push(top());
          break;
        // Numbers and constants.
        case 'I':
        case 'L': {
          const text = reader.line(op === 'I' ? 'INT' : 'LONG')?.toString('latin1') ?? '';
          if (!INT_LINE.test(text)) throw new ParseError(`invalid literal for int: '${text.slice(0, 40)}'`);
          stack.push(OTHER);
          break;
        }
        case 'F': {
          const text = reader.line('FLOAT')?.toString('latin1') ?? '';
          if (!FLOAT_LINE.test(text))
            throw new ParseError(`could not convert string to float: '${text.slice(0, 40)}'`);
          stack.push(OTHER);
          break;
        }
        case 'J':
          reader.skip(4, 'BININT');
          stack.push(OTHER);
          break;
        case 'K':
          reader.skip(1, 'BININT1');
          stack.push(OTHER);
          break;
        case 'M':
          reader.skip(2, 'BININT2');
          stack.push(OTHER);
          break;
        case 'G':
          reader.skip(8, 'BINFLOAT');
          stack.push(OTHER);
          break;
        case '\x8a':
          reader.skip(reader.uint(1, 'LONG1'), 'LONG1');
          stack.push(OTHER);
          break;
        case '\x8b': {
          const length = reader.int4('LONG4');
          if (length < 0) throw new ParseError('LONG pickle has negative byte count');
          reader.skip(length, 'LONG4');
          stack.push(OTHER);
          break;
        }
        case 'N':
        case '\x88':
        case '\x89':
        case ']':
        case ')':
        case '}':
        case '\x8f':
          stack.push(OTHER);
          break;
        // Strings: the values STACK_GLOBAL takes its module and name from.
        case 'S': {
          const line = reader.line('STRING');
          if (line === null) {
            stack.push(OTHER);
            break;
          }
          const text = line.toString('latin1');
          if (text.length < 2 || text[0] !== text.at(-1) || (text[0] !== "'" && text[0] !== '"'))
            throw new ParseError('the STRING opcode argument must be quoted');
          stack.push({ t: 'str', v: escapeDecode(text.slice(1, -1)) });
          break;
        }
        case 'T': {
          const length = reader.int4('BINSTRING');
          if (length < 0) throw new ParseError('BINSTRING pickle has negative byte count');
          pushString(length, (bytes) => bytes.toString('latin1'), 'BINSTRING');
          break;
        }
        case 'U':
          pushString(reader.uint(1, 'SHORT_BINSTRING'), (b) => b.toString('latin1'), 'SHORT_BINSTRING');
          break;
        case 'V': {
          const line = reader.line('UNICODE');
          stack.push(line === null ? OTHER : { t: 'str', v: rawUnicodeEscape(line) });
          break;
        }
        case 'X':
          pushString(reader.uint(4, 'BINUNICODE'), (b) => b.toString('utf8'), 'BINUNICODE');
          break;
        case '\x8c':
          pushString(reader.uint(1, 'SHORT_BINUNICODE'), (b) => b.toString('utf8'), 'SHORT_BINUNICODE');
          break;
        case '\x8d':
          pushString(reader.uint(8, 'BINUNICODE8'), (b) => b.toString('utf8'), 'BINUNICODE8');
          break;
        case 'B':
          pushBytes(reader.uint(4, 'BINBYTES'), 'BINBYTES');
          break;
        case 'C':
          pushBytes(reader.uint(1, 'SHORT_BINBYTES'), 'SHORT_BINBYTES');
          break;
        case '\x8e':
          pushBytes(reader.uint(8, 'BINBYTES8'), 'BINBYTES8');
          break;
        case '\x96':
          pushBytes(reader.uint(8, 'BYTEARRAY8'), 'BYTEARRAY8');
          break;
        case '\x97':
          stack.push(OTHER);
          break;
        case '\x98':
          top();
          break;
        // Containers.
        case 'a':
          pop();
          top();
          break;
        case 'e':
          popMark();
          top();
          break;
        case 'l':
        case 't':
        case '\x91':
          popMark();
          stack.push(OTHER);
          break;
        case 'd': {
          if (popMark().length % 2 !== 0) throw new ParseError('odd number of items for DICT');
          stack.push(OTHER);
          break;
        }
        case 's':
          pop();
          pop();
          top();
          break;
        case 'u': {
          if (popMark().length % 2 !== 0) throw new ParseError('odd number of items for SETITEMS');
          top();
          break;
        }
        case '\x90':
          popMark();
          top();
          break;
        case '\x85':
          pop();
          stack.push(OTHER);
          break;
        case '\x86':
          pop();
          pop();
          stack.push(OTHER);
          break;
        case '\x87':
          pop();
          pop();
          pop();
          stack.push(OTHER);
          break;
        // Memo.
        case 'g':
          memoGet(lineNumber('GET'));
          break;
        case 'h':
          memoGet(reader.uint(1, 'BINGET'));
          break;
        case 'j':
          memoGet(reader.uint(4, 'LONG_BINGET'));
          break;
        case 'p':
          memoPut(lineNumber('PUT'));
          break;
        case 'q':
          memoPut(reader.uint(1, 'BINPUT'));
          break;
        case 'r':
          memoPut(reader.uint(4, 'LONG_BINPUT'));
          break;
        case '\x94':
          memo.set(memo.size, top());
          break;
        // Imports and calls.
        case 'c': {
          const module = decodeName(reader.line('GLOBAL module'), 'GLOBAL module');
          const name = decodeName(reader.line('GLOBAL name'), 'GLOBAL name');
          addImport(module, name, 'GLOBAL', offset);
          stack.push({ t: 'global', module, name });
          break;
        }
        case 'i': {
          const module = decodeName(reader.line('INST module'), 'INST module');
          const name = decodeName(reader.line('INST name'), 'INST name');
          addImport(module, name, 'INST', offset);
          popMark();
          stack.push(OTHER);
          break;
        }
        case '\x93': {
          const name = pop();
          const module = pop();
          if (module.t === 'str' && name.t === 'str') {
            addImport(module.v, name.v, 'STACK_GLOBAL', offset);
            stack.push({ t: 'global', module: module.v, name: name.v });
          } else {
            imports.push({ module: '?', name: '?', opcode: 'STACK_GLOBAL', offset, resolved: false });
            stack.push(OTHER);
          }
          break;
        }
        case '\x82':
        case '\x83':
        case '\x84': {
          const extCode =
            op === '\x82'
              ? reader.uint(1, 'EXT1')
              : op === '\x83'
                ? reader.uint(2, 'EXT2')
                : reader.int4('EXT4');
          if (extCode <= 0) throw new ParseError('EXT specifies code <= 0');
          imports.push({ module: '?', name: `ext:${extCode}`, opcode: 'EXT', offset, resolved: false });
          stack.push(OTHER);
          break;
        }
        case 'o': {
          if (popMark().length === 0) throw new ParseError('OBJ without a class');
          stack.push(OTHER);
          break;
        }
        case 'R':
        case '\x81':
          pop();
          pop();
          stack.push(OTHER);
          break;
        case 'b':
          pop();
          top();
          break;
        case '\x92':
          pop();
          pop();
          pop();
          stack.push(OTHER);
          break;
        case 'P':
          reader.line('PERSID');
          stack.push(OTHER);
          break;
        case 'Q':
          pop();
          stack.push(OTHER);
          break;
        default:
          throw new ParseError(
            `invalid load key 0x${code.toString(16).padStart(2, '0')} at offset ${offset}`,
          );
      }
    }
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    return {
      ok: false,
      error: error.message,
      protocol,
      imports,
      embedded,
      opcodes,
      start,
      end: reader.pos,
    };
  }
}

/** Whether the bytes start like a binary pickle (PROTO 2 to 5). */
export function hasPickleMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= HIGHEST_PROTOCOL;
}
