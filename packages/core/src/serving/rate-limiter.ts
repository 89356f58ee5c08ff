interface Window {
  events: { at: number; tokens: number; expired: boolean }[];
  /** Index of the oldest event still inside the window (events before it are expired). */
  head: number;
  tokens: number;
}

/** Requests and tokens per key in a sliding 60-second window, in memory (one gateway process); O(1) per request. */
export class SlidingWindowLimiter {
  private windows = new Map<string, Window>();

  constructor(private readonly now: () => number) {}

  private window(key: string): Window {
    let window = this.windows.get(key);
    if (!window) {
      window = { events: [], head: 0, tokens: 0 };
      this.windows.set(key, window);
    }
    const cutoff = this.now() - 60_000;
    while (window.head < window.events.length && window.events[window.head]!.at <= cutoff) {
      const expired = window.events[window.head]!;
      window.tokens -= expired.tokens;
      expired.expired = true;
      window.head += 1;
    }
    // Compact now and then, so expired events do not pile up.
    if (window.head > 1024 && window.head * 2 > window.events.length) {
      window.events = window.events.slice(window.head);
      window.head = 0;
    }
    return window;
  }

  /** Seconds until one more request fits under `rpm`, or 0 if it fits now. */
  requestWait(key: string, rpm: number | null): number {
    if (rpm === null) return 0;
    const window = this.window(key);
    const count = window.events.length - window.head;
    if (count < rpm) return 0;
    const oldestToExpire = window.events[window.events.length - rpm]!;
    return Math.max(1, Math.ceil((oldestToExpire.at + 60_000 - this.now()) / 1000));
  }

  /** Seconds until the tokens of the window fall under `tpm`, or 0 if there is room now. */
  tokenWait(key: string, tpm: number | null): number {
    if (tpm === null) return 0;
    const window = this.window(key);
    if (window.tokens < tpm) return 0;
    let total = window.tokens;
    for (let index = window.head; index < window.events.length; index += 1) {
      const event = window.events[index]!;
      total -= event.tokens;
      if (total < tpm) return Math.max(1, Math.ceil((event.at + 60_000 - this.now()) / 1000));
    }
    return 60;
  }

  /** Counts a request now; its tokens are added when known. */
  hit(key: string): { addTokens(tokens: number): void } {
    const window = this.window(key);
    const event = { at: this.now(), tokens: 0, expired: false };
    window.events.push(event);
    return {
      addTokens(tokens) {
        event.tokens += tokens;
        // Only while the event still counts in the window's total.
        if (!event.expired) window.tokens += tokens;
      },
    };
  }
}
