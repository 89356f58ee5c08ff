import type { ErrorCode } from '@aicloud/contracts';

/** How a command prints: aligned tables for people, JSON for scripts. */
export type OutputFormat = 'table' | 'json';

/** Parses `-o`. */
export function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new UsageError(`-o must be table or json, got '${value}'`);
}

/** A mistake in the command line itself. */
export class UsageError extends Error {}

/** Formats rows as a table with aligned columns and a header. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((row) =>
    row.map((cell) => (cell === null || cell === undefined || cell === '' ? '-' : String(cell))),
  );
  const widths = headers.map((header, index) =>
    Math.max(header.length, ...cells.map((row) => row[index]?.length ?? 0)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/** Prints data as JSON or as the table the command describes. */
export function print(format: OutputFormat, data: unknown, asTable: () => string): void {
  process.stdout.write(`${format === 'json' ? JSON.stringify(data, null, 2) : asTable()}\n`);
}

const UNITS: [string, number][] = [
  ['d', 86_400],
  ['h', 3600],
  ['m', 60],
];

/** Seconds as the shortest exact duration people type (`3600` → `1h`, `5400` → `90m`, `45` → `45s`). */
export function duration(seconds: number): string {
  for (const [unit, size] of UNITS) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** A time relative to now, as tables show it: `just now`, `2 min ago`, `3 h ago`, `in 5 days`. */
export function ago(iso: string | null | undefined, now = Date.now()): string | null {
  if (!iso) return null;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = Math.round((now - at) / 1000);
  const size = Math.abs(seconds);
  let text: string;
  if (size < 45) return 'just now';
  if (size < 90 * 60) text = `${Math.max(1, Math.round(size / 60))} min`;
  else if (size < 36 * 3600) text = `${Math.round(size / 3600)} h`;
  else {
    const days = Math.round(size / 86_400);
    text = `${days} day${days === 1 ? '' : 's'}`;
  }
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

/** An absolute time with its relative one, for detail views: `2026-12-01 10:00 UTC (2 min ago)`. */
export function at(iso: string | null | undefined, now = Date.now()): string | null {
  if (!iso) return null;
  const text = Number.isNaN(Date.parse(iso)) ? iso : `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
  return `${text} (${ago(iso, now)})`;
}

/** Dollars as tables show them. */
export const usd = (value: number) => `$${value.toFixed(2)}`;

/** A failure the CLI itself finds, with the API error code whose exit code it ends with (docs/cli.md). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode,
  ) {
    super(message);
  }
}
