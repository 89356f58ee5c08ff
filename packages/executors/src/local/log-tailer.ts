import { readFileSync } from 'node:fs';
import { appendFile, open, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
  // Stdout lines that looked like metrics but did not parse: counted, the first kept (masked), persisted.
  const malformedFile = malformedMetricsFile(deps.logFile);
  const malformed = readMalformedMetrics(malformedFile) ?? { count: 0, first: null };
  const recordMalformed = (line: string, error: string, at: number) => {
    malformed.count += 1;
    malformed.first ??= {
      line: line.length > 200 ? `${line.slice(0, 200)}…` : line,
      error,
      time: new Date(at).toISOString(),
    };
  };
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
    const malformedBefore = malformed.count;
    for (const { stream, line } of masked) {
      deps.emit({ type: 'log', id: deps.id, stream, line, at });
      const checked = stream === 'stdout' ? checkMetricLine(line) : undefined;
      if (checked?.metric) deps.emit({ type: 'metric', id: deps.id, metric: checked.metric, at });
      if (checked?.error) recordMalformed(line, checked.error, at);
    }
    if (malformed.count !== malformedBefore) {
      await writeFile(malformedFile, JSON.stringify(malformed), { mode: 0o600 });
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

/** Stdout lines that looked like metric lines but did not parse: how many, and the first (masked). */
export interface MalformedMetrics {
  count: number;
  first: { line: string; error: string; time: string } | null;
}

/** Where a workload's malformed metric lines are counted: next to its log, `<name>.metric-errors.json`. */
export function malformedMetricsFile(logFile: string): string {
  return join(dirname(logFile), `${basename(logFile).replace(/\.log$/, '')}.metric-errors.json`);
}

/** The malformed metric lines counted for a log file, or undefined when there were none. */
export function readMalformedMetrics(file: string): MalformedMetrics | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as MalformedMetrics;
    return typeof value.count === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_./-]{0,127}$/;
// A line meant as a metric: an object whose "event" is "metric" (single quotes too: Python's repr of a dict).
const LOOKS_LIKE_METRIC = /^\{.*["']event["']\s*:\s*["']metric["']/;

/**
 * Checks a stdout line: undefined when it is not meant as a metric; else the parsed metric (when it is a
 * JSON object with `"event": "metric"`) and what is wrong with it, if anything. A line that does not parse
 * has only an error; one with a bad value keeps its good values and has an error too.
 */
export function checkMetricLine(
  line: string,
): { metric?: Record<string, unknown>; error?: string } | undefined {
  const text = line.trim();
  const metric = parseMetric(text);
  if (!metric) {
    if (!LOOKS_LIKE_METRIC.test(text)) return undefined;
    try {
      JSON.parse(text);
      return { error: 'not a JSON object with "event": "metric"' };
    } catch {
      const hint = /'event'/.test(text) ? ' (use double quotes: print json.dumps(…), not a Python dict)' : '';
      return { error: `not valid JSON${hint}` };
    }
  }
  const problems: string[] = [];
  if (metric.step !== undefined && !(typeof metric.step === 'number' && Number.isFinite(metric.step)))
    problems.push(`"step" is ${JSON.stringify(metric.step)}, not a number`);
  const names = Object.keys(metric).filter((name) => name !== 'event' && name !== 'step');
  for (const name of names) {
    const value = metric[name];
    if (!METRIC_NAME.test(name)) problems.push(`${JSON.stringify(name)} is not a metric name`);
    else if (typeof value !== 'number' || !Number.isFinite(value))
      problems.push(`"${name}" is ${JSON.stringify(value)}, not a number`);
  }
  if (names.length === 0) problems.push('no metric in it: add "name": number pairs');
  return problems.length > 0 ? { metric, error: problems.join('; ') } : { metric };
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
