import { z } from 'zod';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** The longest duration the platform takes anywhere (token lifetimes, key periods, runtimes, idle timeouts). */
export const MAX_DURATION_SECONDS = 3650 * 86_400;

/** Seconds of a duration text (`90s`, `30m`, `8h`, `30d`), or null when the text is not one. */
export function durationSeconds(text: string): number | null {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  return match ? Number(match[1]) * UNIT_SECONDS[match[2]!]! : null;
}

/** A duration such as `90s`, `30m`, `8h` or `30d`: at least 1s and at most 3650d (ten years). */
export const Duration = z
  .string()
  .superRefine((text, context) => {
    const seconds = durationSeconds(text);
    if (seconds === null)
      context.addIssue({ code: 'custom', message: 'must be a duration such as 90s, 30m, 8h or 30d' });
    else if (seconds < 1) context.addIssue({ code: 'custom', message: 'must be at least 1s' });
    else if (seconds > MAX_DURATION_SECONDS)
      context.addIssue({ code: 'custom', message: 'must be at most 3650d (ten years)' });
  })
  .meta({ examples: ['90s', '30m', '8h', '30d'] });
