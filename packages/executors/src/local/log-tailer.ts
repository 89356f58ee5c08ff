import { appendFile, open, rm, writeFile } from 'node:fs/promises';
import type { ExecutorEvent } from '../executor.ts';
import type { SecretMasker } from './secret-masker.ts';
import { readJson, type WorkloadFiles } from './workload-files.ts';

/** What a log tailer reads from and reports to. */
export interface LogTailerDeps {
  /** The workload's id, put on every event. */
  id: string;
  /** The workload's spool and offset files. */
  files: WorkloadFiles;
  /** Where masked lines are appended. */
  logFile: string;
  /** Masks secrets in one complete line. */
  mask: SecretMasker;
  /** Receives log and metric events. */
  emit: (event: ExecutorEvent) => void;
  /** Milliseconds since the epoch, for event times. */
  now: () => number;
}

/** Copies a workload's spooled output into its log file, line by line, masked, and reports each line. */
export interface LogTailer {
  /** Copies the complete lines written since the last call; calls run one after another. */
  poll(): Promise<void>;
  /** Copies the rest, an unterminated last line included, then deletes the spools (they hold unmasked secrets). */
  finish(): Promise<void>;
}

type Stream = 'stdout' | 'stderr';

interface StreamState {
  /** Bytes of the spool copied as complete lines; persisted so a restarted executor resumes there. */
  committed: number;
  /** Bytes of the spool read so far. */
  read: number;
  /** Read bytes after the last newline. */
  partial: Buffer;
}

// A line that never ends (a progress bar redrawn with \r) is cut here rather than held forever.
const maxLineBytes = 64 * 1024;
const maxReadBytes = 4 * 1024 * 1024;

/** Creates a tailer that resumes at the offsets a previous executor persisted, if any. */
export function createLogTailer(deps: LogTailerDeps): LogTailer {
  const persisted = readJson(deps.files.offsets) as Partial<Record<Stream, unknown>> | undefined;
  const start = (stream: Stream): StreamState => {
    const offset = persisted?.[stream];
    const committed = typeof offset === 'number' && offset >= 0 ? offset : 0;
    return { committed, read: committed, partial: Buffer.alloc(0) };
  };
  const streams: Record<Stream, StreamState> = { stdout: start('stdout'), stderr: start('stderr') };
  let queue: Promise<void> = Promise.resolve();

  const copy = async (final: boolean): Promise<boolean> => {
    const lines: { stream: Stream; line: string }[] = [];
    let moreToRead = false;
    for (const stream of ['stdout', 'stderr'] as const) {
      const state = streams[stream];
      const chunk = await readFrom(deps.files[stream], state.read);
      const capped = chunk.length === maxReadBytes;
      moreToRead ||= capped;
      state.read += chunk.length;
      let rest = chunk.length > 0 ? Buffer.concat([state.partial, chunk]) : state.partial;
      for (let newline = rest.indexOf(10); newline >= 0; newline = rest.indexOf(10)) {
        lines.push({ stream, line: rest.subarray(0, newline).toString('utf8').replace(/\r$/, '') });
        rest = rest.subarray(newline + 1);
      }
      if (rest.length > maxLineBytes || (final && !capped && rest.length > 0)) {
        lines.push({ stream, line: rest.toString('utf8') });
        rest = Buffer.alloc(0);
      }
      state.partial = Buffer.from(rest);
      state.committed = state.read - state.partial.length;
    }
    if (lines.length === 0) return moreToRead;
    const masked = lines.map(({ stream, line }) => ({ stream, line: deps.mask(line) }));
    await appendFile(deps.logFile, masked.map(({ line }) => `${line}\n`).join(''));
    const at = deps.now();
    for (const { stream, line } of masked) {
      deps.emit({ type: 'log', id: deps.id, stream, line, at });
      const metric = stream === 'stdout' ? parseMetric(line) : undefined;
      if (metric) deps.emit({ type: 'metric', id: deps.id, metric, at });
    }
    const offsets = { stdout: streams.stdout.committed, stderr: streams.stderr.committed };
    await writeFile(deps.files.offsets, JSON.stringify(offsets), { mode: 0o600 });
    return moreToRead;
  };

  const enqueue = (work: () => Promise<void>): Promise<void> => {
    queue = queue.then(work, work);
    return queue;
  };

  return {
    poll: () =>
      enqueue(async () => {
        await copy(false);
      }),
    finish: () =>
      enqueue(async () => {
        while (await copy(true)) {}
        await Promise.all(
          [deps.files.stdout, deps.files.stderr, deps.files.offsets].map((path) => rm(path, { force: true })),
        );
      }),
  };
}

/** Parses a line that is a JSON object with `"event": "metric"`, else undefined. */
export function parseMetric(line: string): Record<string, unknown> | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const record = value as Record<string, unknown>;
    return record.event === 'metric' ? record : undefined;
  } catch {
    return undefined;
  }
}

async function readFrom(path: string, position: number): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = Math.min(maxReadBytes, Math.max(0, (await handle.stat()).size - position));
    const buffer = Buffer.alloc(size);
    let length = 0;
    while (length < size) {
      const { bytesRead } = await handle.read(buffer, length, size - length, position + length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
