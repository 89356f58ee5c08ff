/** Requests and tokens per key in a sliding 60-second window, in memory (one gateway process). */
export class SlidingWindowLimiter {
  private events = new Map<string, { at: number; tokens: number }[]>();

  constructor(private readonly now: () => number) {}

  private window(key: string): { at: number; tokens: number }[] {
    const cutoff = this.now() - 60_000;
    const list = this.events.get(key) ?? [];
    while (list.length > 0 && list[0]!.at <= cutoff) list.shift();
    this.events.set(key, list);
    return list;
  }

  /** Seconds until one more request fits under `rpm`, or 0 if it fits now. */
  requestWait(key: string, rpm: number | null): number {
    if (rpm === null) return 0;
    const list = this.window(key);
    if (list.length < rpm) return 0;
    return Math.max(1, Math.ceil((list[list.length - rpm]!.at + 60_000 - this.now()) / 1000));
  }

  /** Seconds until the tokens of the window fall under `tpm`, or 0 if there is room now. */
  tokenWait(key: string, tpm: number | null): number {
    if (tpm === null) return 0;
    const list = this.window(key);
    let total = list.reduce((sum, event) => sum + event.tokens, 0);
    if (total < tpm) return 0;
    for (const event of list) {
      total -= event.tokens;
      if (total < tpm) return Math.max(1, Math.ceil((event.at + 60_000 - this.now()) / 1000));
    }
    return 60;
  }

  /** Counts a request now; its tokens are added when known. */
  hit(key: string): { addTokens(tokens: number): void } {
    const event = { at: this.now(), tokens: 0 };
    this.window(key).push(event);
    return {
      addTokens(tokens) {
        event.tokens += tokens;
      },
    };
  }
}
