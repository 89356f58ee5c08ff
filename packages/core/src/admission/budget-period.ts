import { AppError } from '../app-error.ts';
import { parseDuration } from '../duration.ts';

/** The budget period that contains `now`: calendar months for `1mo`, else fixed windows from the anchor. */
export function currentPeriod(duration: string, anchor: string, now: number): { start: string; end: string } {
  const months = /^(\d+)mo$/.exec(duration);
  if (months) {
    const count = Number(months[1]);
    const date = new Date(now);
    const anchorDate = new Date(anchor);
    const monthIndex = date.getUTCFullYear() * 12 + date.getUTCMonth();
    const anchorIndex = anchorDate.getUTCFullYear() * 12 + anchorDate.getUTCMonth();
    const startIndex = monthIndex - ((((monthIndex - anchorIndex) % count) + count) % count);
    const start = Date.UTC(Math.floor(startIndex / 12), startIndex % 12, 1);
    const end = Date.UTC(Math.floor((startIndex + count) / 12), (startIndex + count) % 12, 1);
    return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
  }
  const length = parseDuration(duration, 'budgetDuration') * 1000;
  if (length <= 0) throw new AppError('invalid_input', 'budgetDuration must be positive');
  const anchorTime = Date.parse(anchor);
  const index = Math.floor((now - anchorTime) / length);
  const start = anchorTime + index * length;
  return { start: new Date(start).toISOString(), end: new Date(start + length).toISOString() };
}

/** Whether text is a budget duration (`30d`, `1mo`, `7d`, `12h`). */
export function isBudgetDuration(text: string): boolean {
  return /^\d+(mo|d|h)$/.test(text) && !/^0+(mo|d|h)$/.test(text);
}
