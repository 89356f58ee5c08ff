import type { Platform } from '@aicloud/core';

/** Runs the platform's controllers every `intervalMs`, one pass at a time; returns a stop function. */
export function startControllerLoop(
  platform: Platform,
  intervalMs: number,
  log: (message: string) => void,
): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(() =>
      platform.tick().catch((error: unknown) => {
        log(`controller tick failed: ${(error as Error).stack ?? String(error)}`);
      }),
    );
  }, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
