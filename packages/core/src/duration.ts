import { AppError } from './app-error.ts';

const unitSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses a duration such as `90s`, `30m`, `8h`, `30d` into seconds. */
export function parseDuration(text: string, field = 'duration'): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!match) {
    throw new AppError(
      'invalid_input',
      `${field} '${text}' is not a duration: use a number and a unit, e.g. 90s, 30m, 8h, 30d`,
      {
        issues: [{ path: [field], message: 'expected a duration such as 90s, 30m, 8h or 30d' }],
      },
    );
  }
  return Number(match[1]) * (unitSeconds[match[2]!] ?? 1);
}

/** Formats seconds as the shortest exact duration text (`28800` → `8h`). */
export function formatDuration(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    const size = unitSeconds[unit]!;
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
