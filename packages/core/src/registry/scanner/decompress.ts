import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { gunzipSync, inflateRawSync } from 'node:zlib';

/** Why compressed bytes could not be opened: no decoder here, broken data, or output over the limit. */
export type DecompressFailure = 'unavailable' | 'corrupt' | 'too-large';

export class DecompressError extends Error {
  constructor(
    message: string,
    readonly reason: DecompressFailure,
  ) {
    super(message);
  }
}

/** The compressed wrappers recognised by their magic bytes. */
export type Compression = 'gzip' | 'bzip2' | 'xz';

/** The wrapper the bytes start with, if any. */
export function compressionOf(head: Uint8Array): Compression | null {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (
    head.length >= 4 &&
    head[0] === 0x42 &&
    head[1] === 0x5a &&
    head[2] === 0x68 &&
    head[3]! >= 0x31 &&
    head[3]! <= 0x39
  )
    return 'bzip2';
  const xz = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
  if (head.length >= 6 && xz.every((byte, index) => head[index] === byte)) return 'xz';
  return null;
}

function zlibFailure(error: unknown, what: string): DecompressError {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE' || /maxOutputLength|Cannot create a Buffer larger/i.test(String(error)))
    return new DecompressError(`${what}: output over the limit`, 'too-large');
  return new DecompressError(`${what}: ${(error as Error).message}`, 'corrupt');
}

export function gunzip(bytes: Buffer, maxBytes: number): Buffer {
  try {
    return gunzipSync(bytes, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (error) {
    throw zlibFailure(error, 'gzip');
  }
}

export function inflateRaw(bytes: Buffer, maxBytes: number): Buffer {
  try {
    return inflateRawSync(bytes, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (error) {
    throw zlibFailure(error, 'deflate');
  }
}

/** Debian's decoders, found by absolute path only (never through PATH). */
function tool(name: string): string {
  for (const dir of ['/usr/bin', '/bin']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  throw new DecompressError(`${name} is not installed here: cannot open the data`, 'unavailable');
}

/** Runs a decoder over `input` (stdin to stdout), with no shell and output capped at `maxBytes`. */
function decode(
  name: string,
  args: string[],
  input: Buffer,
  maxBytes: number,
  accept?: (stdout: Buffer, stderr: string) => boolean,
): Buffer {
  const result = spawnSync(tool(name), args, {
    input,
    maxBuffer: maxBytes + 1,
    env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' },
    timeout: 10 * 60 * 1000,
  });
  const stderr = result.stderr?.toString('utf8').trim().split('\n')[0] ?? '';
  if (result.error) {
    const code = (result.error as { code?: string }).code;
    if (code === 'ENOBUFS') throw new DecompressError(`${name}: output over the limit`, 'too-large');
    if (code === 'ENOENT') throw new DecompressError(`${name} is not installed here`, 'unavailable');
    throw new DecompressError(`${name}: ${result.error.message}`, 'corrupt');
  }
  if (result.stdout.length > maxBytes)
    throw new DecompressError(`${name}: output over the limit`, 'too-large');
  if (result.status !== 0 && !accept?.(result.stdout, stderr))
    throw new DecompressError(`${name}: ${stderr || `exit status ${result.status}`}`, 'corrupt');
  return result.stdout;
}

export function bunzip2(bytes: Buffer, maxBytes: number): Buffer {
  return decode('bzip2', ['-dc'], bytes, maxBytes);
}

export function unxz(bytes: Buffer, maxBytes: number): Buffer {
  return decode('xz', ['-dc', '--format=xz'], bytes, maxBytes);
}

/** Decompresses whichever wrapper `kind` names. */
export function decompress(kind: Compression, bytes: Buffer, maxBytes: number): Buffer {
  if (kind === 'gzip') return gunzip(bytes, maxBytes);
  if (kind === 'bzip2') return bunzip2(bytes, maxBytes);
  return unxz(bytes, maxBytes);
}

/**
 * A zip entry compressed with LZMA (method 14): a 4-byte header (version, properties size), 5 bytes of
 * LZMA1 properties, then raw LZMA1 data, decoded by `xz --format=raw`. Without an end marker the data ends
 * where the entry does: then xz's complaint about the end of input is fine if `size` bytes came out.
 */
export function unlzmaZipEntry(bytes: Buffer, size: number, maxBytes: number): Buffer {
  if (bytes.length < 9 || bytes.readUInt16LE(2) !== 5)
    throw new DecompressError('LZMA entry: bad properties header', 'corrupt');
  const props = bytes[4]!;
  if (props >= 9 * 5 * 5) throw new DecompressError('LZMA entry: bad properties', 'corrupt');
  const lc = props % 9;
  const lp = Math.floor(props / 9) % 5;
  const pb = Math.floor(props / 45);
  const dict = Math.max(4096, bytes.readUInt32LE(5));
  return decode(
    'xz',
    ['-dc', '--format=raw', `--lzma1=lc=${lc},lp=${lp},pb=${pb},dict=${dict}`],
    bytes.subarray(9),
    maxBytes,
    (stdout, stderr) => stdout.length === size && /unexpected end of input/i.test(stderr),
  );
}
