import { type ByteSource, bufferSource, sliceSource } from './byte-source.ts';
import { bunzip2, DecompressError, inflateRaw, unlzmaZipEntry, unxz } from './decompress.ts';

/** One entry of a zip archive's central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate, 12 bzip2, 14 LZMA, 95 xz; anything else cannot be read here. */
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Why an archive or entry could not be read: broken, not readable here, or over the size limit. */
export type ZipFailure = 'malformed' | 'unsupported' | 'too-large';

/** A malformed or unsupported archive. */
export class ZipError extends Error {
  constructor(
    message: string,
    readonly reason: ZipFailure = 'malformed',
  ) {
    super(message);
  }
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_ENTRIES = 1_000_000;

/** Whether the bytes start with a zip local file header (`PK\x03\x04`) or an empty archive's end record. */
export function hasZipMagic(head: Uint8Array): boolean {
  if (head.length < 4 || head[0] !== 0x50 || head[1] !== 0x4b) return false;
  return (head[2] === 0x03 && head[3] === 0x04) || (head[2] === 0x05 && head[3] === 0x06);
}

function u64(buffer: Buffer, offset: number): number {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError('zip64 value too large');
  return Number(value);
}

/** Reads the central directory (zip64 included) of an archive. */
export function readZipEntries(source: ByteSource): ZipEntry[] {
  const tailLength = Math.min(source.size, 22 + 0xffff);
  const tailStart = source.size - tailLength;
  const tail = source.read(tailStart, tailLength);
  let eocd = -1;
  for (let index = tail.length - 22; index >= 0; index -= 1) {
    if (tail.readUInt32LE(index) === EOCD) {
      eocd = index;
      break;
    }
  }
  if (eocd < 0) throw new ZipError('no end of central directory record (not a zip, or truncated)');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  const eocdAt = tailStart + eocd;
  let cdEnd = eocdAt;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    if (eocdAt < 20) throw new ZipError('zip64 locator missing');
    const locator = source.read(eocdAt - 20, 20);
    if (locator.readUInt32LE(0) !== EOCD64_LOCATOR) throw new ZipError('zip64 locator missing');
    const recordAt = u64(locator, 8);
    const record = source.read(recordAt, 56);
    if (record.length < 56 || record.readUInt32LE(0) !== EOCD64)
      throw new ZipError('zip64 end record missing');
    count = u64(record, 32);
    cdSize = u64(record, 40);
    cdOffset = u64(record, 48);
    cdEnd = recordAt;
  }
  if (count > MAX_ENTRIES) throw new ZipError(`too many entries (${count})`);
  // Data prepended to the archive shifts every offset by the same amount.
  const shift = cdEnd - (cdOffset + cdSize);
  if (shift < 0) throw new ZipError('central directory lies outside the file (truncated archive)');
  const directory = source.read(cdOffset + shift, cdSize);
  if (directory.length < cdSize) throw new ZipError('truncated central directory');
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let index = 0; index < count; index += 1) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL)
      throw new ZipError(`bad central directory entry ${index}`);
    const flags = directory.readUInt16LE(at + 8);
    const method = directory.readUInt16LE(at + 10);
    let compressedSize = directory.readUInt32LE(at + 20);
    let size = directory.readUInt32LE(at + 24);
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    let localHeaderOffset = directory.readUInt32LE(at + 42);
    const nameEnd = at + 46 + nameLength;
    if (nameEnd + extraLength + commentLength > directory.length)
      throw new ZipError(`bad central directory entry ${index}`);
    const name = directory.toString(flags & 0x800 ? 'utf8' : 'latin1', at + 46, nameEnd);
    let extra = nameEnd;
    while (extra + 4 <= nameEnd + extraLength) {
      const id = directory.readUInt16LE(extra);
      const length = directory.readUInt16LE(extra + 2);
      if (id === 0x0001) {
        let field = extra + 4;
        if (size === 0xffffffff) {
          size = u64(directory, field);
          field += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(directory, field);
          field += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(directory, field);
      }
      extra += 4 + length;
    }
    entries.push({ name, method, flags, compressedSize, size, localHeaderOffset: localHeaderOffset + shift });
    at = nameEnd + extraLength + commentLength;
  }
  return entries;
}

/**
 * The entry's content as a source: stored entries in place, deflated ones inflated here, bzip2 (12), LZMA
 * (14) and xz (95) through Debian's `bzip2` and `xz`, each up to `maxBytes`. The local header must name the
 * same file as the central directory (loaders differ in which one they trust).
 */
export function openZipEntry(source: ByteSource, entry: ZipEntry, maxBytes: number): ByteSource {
  if (entry.flags & 0x1) throw new ZipError(`${entry.name} is encrypted`, 'unsupported');
  const header = source.read(entry.localHeaderOffset, 30);
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL)
    throw new ZipError(`${entry.name}: bad local header`);
  const nameLength = header.readUInt16LE(26);
  const localName = source.read(entry.localHeaderOffset + 30, nameLength);
  const flags = header.readUInt16LE(6);
  if (localName.toString(flags & 0x800 || entry.flags & 0x800 ? 'utf8' : 'latin1') !== entry.name)
    throw new ZipError(`${entry.name}: the local header names another file`);
  const dataStart = entry.localHeaderOffset + 30 + nameLength + header.readUInt16LE(28);
  if (dataStart + entry.compressedSize > source.size) throw new ZipError(`${entry.name}: truncated data`);
  if (entry.method === 0) return sliceSource(source, dataStart, entry.compressedSize);
  if (![8, 12, 14, 95].includes(entry.method))
    throw new ZipError(`${entry.name}: compression method ${entry.method} not supported`, 'unsupported');
  if (entry.size > maxBytes)
    throw new ZipError(`${entry.name}: ${entry.size} bytes decompressed is over the limit`, 'too-large');
  const packed = source.read(dataStart, entry.compressedSize);
  try {
    if (entry.method === 8) return bufferSource(inflateRaw(packed, maxBytes));
    if (entry.method === 12) return bufferSource(bunzip2(packed, maxBytes));
    if (entry.method === 14) return bufferSource(unlzmaZipEntry(packed, entry.size, maxBytes));
    return bufferSource(unxz(packed, maxBytes));
  } catch (error) {
    if (!(error instanceof DecompressError)) throw error;
    const reason: ZipFailure =
      error.reason === 'unavailable'
        ? 'unsupported'
        : error.reason === 'too-large'
          ? 'too-large'
          : 'malformed';
    throw new ZipError(`${entry.name}: cannot decompress (${error.message})`, reason);
  }
}
