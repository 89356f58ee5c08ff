/** Splits `nvidia-smi --format=csv` output into rows keyed by field name; a header line, if present, names the fields. */
export function parseNvidiaSmiCsv(text: string, fields: readonly string[]): Record<string, string>[] {
  let names = [...fields];
  const rows: Record<string, string>[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const cells = line.split(',').map((cell) => cell.trim());
    const bare = cells.map((cell) => cell.replace(/\s*\[.*\]$/, ''));
    // A header names fields in lower case ("memory.total [MiB]"); a row never has a cell "uuid" or "index".
    if (bare.some((cell) => cell === 'uuid' || cell === 'gpu_uuid' || cell === 'index' || cell === 'pid')) {
      names = bare;
      continue;
    }
    // Anything else with another number of cells (the human table some captures append) is not a row.
    if (cells.length !== names.length) continue;
    rows.push(Object.fromEntries(names.map((name, i) => [name, cells[i] ?? ''])));
  }
  return rows;
}

/** Reads a number from a cell with or without its unit ("143771 MiB", "80.06 W", "5 %"); undefined for N/A. */
export function cellNumber(cell: string | undefined): number | undefined {
  const match = cell?.match(/^-?\d+(\.\d+)?/);
  return match ? Number(match[0]) : undefined;
}

/** The first non-empty cell among field names that mean the same thing. */
export function cellOf(row: Record<string, string>, ...names: string[]): string | undefined {
  for (const name of names) {
    const cell = row[name];
    if (cell !== undefined && cell !== '') return cell;
  }
  return undefined;
}
