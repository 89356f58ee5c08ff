/** Money is stored as integer micro-dollars so sums stay exact to the cent at any volume. */
export function toMicros(usd: number): number {
  return Math.round(usd * 1_000_000);
}

/** Micro-dollars to dollars. */
export function fromMicros(micros: number): number {
  return micros / 1_000_000;
}

/** Micro-dollars to whole cents, rounded up (what a policy compares against). */
export function microsToCents(micros: number): number {
  return Math.ceil(micros / 10_000);
}

/** `$12.34`. */
export function formatUsd(micros: number): string {
  return `$${(micros / 1_000_000).toFixed(2)}`;
}
