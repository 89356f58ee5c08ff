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
