import { AppError } from '../app-error.ts';

/** A half-open time window [from, to) of the bill, in epoch milliseconds. */
export interface BillWindow {
  from: number;
  to: number;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A calendar month `2026-11` as a window. */
export function monthWindow(period: string): BillWindow {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period);
  if (!match) {
    throw new AppError('invalid_input', `period '${period}' is not a month: use e.g. 2026-11`, {
      issues: [{ path: ['period'], message: 'a month, e.g. 2026-11' }],
    });
  }
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  return { from: Date.UTC(year, month, 1), to: Date.UTC(year, month + 1, 1) };
}

/** A window of `7d` or `12h` ending now. */
export function sinceWindow(since: string, now: number): BillWindow {
  const match = /^([1-9]\d{0,3})(d|h)$/.exec(since);
  if (!match) {
    throw new AppError('invalid_input', `since '${since}' is not a window: use e.g. 7d or 12h`, {
      issues: [{ path: ['since'], message: 'e.g. 7d or 12h' }],
    });
  }
  const length = Number(match[1]) * (match[2] === 'd' ? DAY_MS : HOUR_MS);
  // `to` is just past now, so usage stamped at this very millisecond is in the window.
  return { from: now - length, to: now + 1 };
}

/** The calendar month that contains `now`. */
export function currentMonth(now: number): BillWindow {
  const date = new Date(now);
  return {
    from: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1),
    to: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1),
  };
}

/** Refuses period and since together. */
export function checkWindowArgs(query: { period?: string | undefined; since?: string | undefined }): void {
  if (query.period && query.since) {
    throw new AppError('invalid_input', 'pass either period (e.g. 2026-11) or since (e.g. 7d), not both', {
      issues: [{ path: ['since'], message: 'not with period' }],
    });
  }
}

/** Midnight UTC at or before `time`. */
export function dayFloor(time: number): number {
  return Math.floor(time / DAY_MS) * DAY_MS;
}

/** Midnight UTC at or after `time`. */
export function dayCeil(time: number): number {
  return Math.ceil(time / DAY_MS) * DAY_MS;
}

/** `2026-11-03` for every UTC day that overlaps [from, to). */
export function daysOf(from: number, to: number): string[] {
  const days: string[] = [];
  for (let day = dayFloor(from); day < to; day += DAY_MS) days.push(new Date(day).toISOString().slice(0, 10));
  return days;
}

/** ISO text of epoch milliseconds. */
export const iso = (time: number): string => new Date(time).toISOString();

export { DAY_MS, HOUR_MS };
