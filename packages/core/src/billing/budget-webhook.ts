import { postWebhook, WebhookRefused, type WebhookResolver, webhookUrlRefusal } from './webhook-guard.ts';

/**
 * The result of delivering one webhook: after every try, dropped because the queue was full, or refused
 * (nothing sent) because its URL or an address its host resolves to is not allowed.
 */
export type WebhookOutcome = 'delivered' | 'failed' | 'dropped' | 'refused';

/** Fire-and-forget webhook delivery: a bounded queue, one POST at a time, each retried with backoff. */
export interface WebhookQueue {
  /** Queues a POST of the JSON payload; returns at once. `done` hears how it ended. */
  enqueue(url: string, payload: unknown, done?: (outcome: WebhookOutcome) => void | Promise<void>): void;
  /** Resolves when every queued delivery has ended (for tests and shutdown). */
  drain(): Promise<void>;
  /** Deliveries waiting or in flight. */
  readonly pending: number;
}

/** How the queue delivers. */
export interface WebhookQueueOptions {
  /** Where webhooks may go (see `WebhookPolicy`); empty or absent: nowhere. */
  allowedHosts?: readonly string[];
  /**
   * Sends instead of the guarded POST (tests): the URL is still checked against the allow-list first,
   * and redirects are not followed; resolving the host is then this function's business.
   */
  fetch?: typeof fetch;
  /** Resolves host names for the guarded POST (default: the system resolver). */
  resolve?: WebhookResolver;
  /** Tries per delivery (default 3). */
  tries?: number;
  /** Wait before the second try, doubled before each later one (default 1 s). */
  backoffMs?: number;
  /** Deliveries held at most; more are dropped (default 100). */
  maxPending?: number;
  /** Per-try timeout (default 5 s). */
  timeoutMs?: number;
}

/** Creates a webhook queue. */
export function createWebhookQueue(options: WebhookQueueOptions = {}): WebhookQueue {
  const tries = options.tries ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  const maxPending = options.maxPending ?? 100;
  const timeoutMs = options.timeoutMs ?? 5000;
  const policy = { allowedHosts: options.allowedHosts ?? [] };
  const post = async (url: string, body: string, headers: Record<string, string>) => {
    if (options.fetch) {
      const response = await options.fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel().catch(() => {});
      return { ok: response.ok };
    }
    return postWebhook(url, { body, headers, timeoutMs }, policy, options.resolve);
  };
  let pending = 0;
  let chain: Promise<void> = Promise.resolve();

  async function deliver(url: string, body: string): Promise<WebhookOutcome> {
    // Checked at every send, not only when the URL was saved: settings and DNS answers change.
    if (webhookUrlRefusal(url, policy)) return 'refused';
    for (let attempt = 1; attempt <= tries; attempt += 1) {
      try {
        const response = await post(url, body, {
          'content-type': 'application/json',
          'user-agent': 'aicloud-budget-alerts',
        });
        // A redirect is not followed: it is not a delivery.
        if (response.ok) return 'delivered';
      } catch (error) {
        if (error instanceof WebhookRefused) return 'refused';
        // Unreachable or timed out: try again after the backoff.
      }
      if (attempt < tries)
        await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)));
    }
    return 'failed';
  }

  return {
    enqueue(url, payload, done) {
      if (pending >= maxPending) {
        void Promise.resolve()
          .then(() => done?.('dropped'))
          .catch(() => {});
        return;
      }
      pending += 1;
      const body = JSON.stringify(payload);
      chain = chain.then(async () => {
        const outcome = await deliver(url, body);
        pending -= 1;
        try {
          await done?.(outcome);
        } catch {
          // A listener's failure is not the queue's.
        }
      });
    },
    drain: () => chain,
    get pending() {
      return pending;
    },
  };
}
