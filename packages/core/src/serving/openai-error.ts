/** An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, with its HTTP status. */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly param: string | null = null,
    /** Seconds for `Retry-After` (429 and 503), at most 60. */
    readonly retryAfter: number | null = null,
    /** `false` sends `x-should-retry: false` (OpenAI's SDKs then do not retry): waiting will not help. */
    readonly shouldRetry: boolean | null = null,
  ) {
    super(message);
  }

  /** The body OpenAI's clients expect; all four keys present. */
  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
