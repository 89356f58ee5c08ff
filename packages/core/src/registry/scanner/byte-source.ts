import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Random access to bytes: a file on disk (read on demand) or a buffer in memory. */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes from `offset`; fewer only at the end of the source. */
  read(offset: number, length: number): Buffer;
}

/** A source over bytes in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    size: buffer.length,
    read: (offset, length) => buffer.subarray(offset, Math.min(buffer.length, offset + length)),
  };
}

/** Opens a file as a source; call `close` when done. Large files are never read whole. */
export function openFileSource(path: string): ByteSource & { close(): void } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const wanted = Math.max(0, Math.min(length, size - offset));
      const buffer = Buffer.alloc(wanted);
      let done = 0;
      while (done < wanted) {
        const read = readSync(fd, buffer, done, wanted - done, offset + done);
        if (read === 0) break;
        done += read;
      }
      return done === wanted ? buffer : buffer.subarray(0, done);
    },
    close: () => closeSync(fd),
  };
}

/** A window of another source (an entry stored uncompressed inside a zip). */
export function sliceSource(source: ByteSource, start: number, size: number): ByteSource {
  return {
    size,
    read: (offset, length) => source.read(start + offset, Math.max(0, Math.min(length, size - offset))),
  };
}
