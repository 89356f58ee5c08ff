import type { JobStatus } from '@aicloud/contracts';

/** US dollars with cents: `$7.34`. */
export function usd(amount: number): string {
  return `$${amount.toFixed(2)}`;
}

/** Seconds as the largest whole unit the API also accepts: `1h`, `90m`, `45s`. */
export function duration(seconds: number): string {
  if (seconds > 0 && seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** `2 × A100`, or `CPU only` for a job without GPUs. */
export function gpuText(gpus: number, gpuType: string | null): string {
  return gpus > 0 ? `${gpus} × ${gpuType ?? 'GPU'}` : 'CPU only';
}

/** The states a job never leaves. */
export const finalStatuses: readonly JobStatus[] = [
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'lost',
];

/** A time as `2025-01-31 14:05` (UTC), or a dash. */
export function time(iso: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : '—';
}

/** Milliseconds since the epoch as `2025-01-31 14:05` (UTC), or a dash. */
export function epochTime(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 16) : '—';
}

/** A span of milliseconds in its two largest units: `850 ms`, `42 s`, `3 m 5 s`, `2 h 10 m`. */
export function elapsed(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} m ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} m`;
}
