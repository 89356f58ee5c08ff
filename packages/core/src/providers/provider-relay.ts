import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { countTokens } from '../serving/gateway-request-check.ts';

/** The token counts a provider reports in `usage`. */
export interface ProviderUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

/** What one relayed answer delivered, for metering. */
export interface Relayed {
  /** The provider's own usage, when it reported one. */
  usage: ProviderUsage | null;
  /** Output tokens counted from the content the client received (a streamed delta is at least one). */
  deliveredTokens: number;
  /** The client left before the answer ended (the upstream request was cancelled). */
  aborted: boolean;
}

interface StreamChoice {
  delta?: { content?: unknown; tool_calls?: { function?: { arguments?: unknown } }[] };
  message?: { content?: unknown; tool_calls?: { function?: { arguments?: unknown } }[] };
}

/**
 * Passes a provider's answer to the client and counts what it delivered. A stream is relayed event by event;
 * the usage-only chunk the gateway asked for (`stream_options.include_usage`) is read for metering and
 * passed on only when the client asked for it too, as OpenAI sends it only then.
 */
export async function relay(
  upstream: Dispatcher.ResponseData<unknown>,
  response: ServerResponse,
  headers: Record<string, string>,
  options: { stream: boolean; clientWantsUsage: boolean; signal: AbortSignal },
): Promise<Relayed> {
  if (!options.stream) {
    const text = await upstream.body.text();
    response.writeHead(upstream.statusCode, headers);
    response.end(text);
    try {
      const parsed = JSON.parse(text) as { usage?: ProviderUsage; choices?: StreamChoice[] };
      const content = (parsed.choices ?? []).map((choice) => textOf(choice.message)).join('');
      return { usage: parsed.usage ?? null, deliveredTokens: countTokens(content), aborted: false };
    } catch {
      return { usage: null, deliveredTokens: 0, aborted: false };
    }
  }
  response.writeHead(upstream.statusCode, { ...headers, 'cache-control': 'no-cache' });
  let usage: ProviderUsage | null = null;
  let text = '';
  let deltas = 0;
  let buffered = '';
  const passOn = (event: string) => {
    const data = /^data: (\{.*\})\s*$/s.exec(event)?.[1];
    if (data !== undefined) {
      try {
        const chunk = JSON.parse(data) as { usage?: ProviderUsage | null; choices?: StreamChoice[] };
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          const delta = textOf(choice.delta);
          if (delta) {
            text += delta;
            deltas += 1;
          }
        }
        if (!options.clientWantsUsage && chunk.usage && (chunk.choices ?? []).length === 0) return;
      } catch {
        // Not JSON: passed through untouched.
      }
    }
    response.write(`${event}\n\n`);
  };
  try {
    for await (const chunk of upstream.body) {
      buffered += (chunk as Buffer).toString('utf8').replace(/\r\n/g, '\n');
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        passOn(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
      }
    }
    if (buffered.trim()) passOn(buffered.replace(/\n+$/, ''));
  } catch (error) {
    if (!options.signal.aborted) throw error;
  }
  const deliveredTokens = Math.max(deltas, countTokens(text));
  if (options.signal.aborted) return { usage: null, deliveredTokens, aborted: true };
  response.end();
  return { usage, deliveredTokens, aborted: false };
}

/** The text a choice carries: its content and its tool calls' arguments. */
function textOf(part: StreamChoice['delta']): string {
  if (!part) return '';
  let text = typeof part.content === 'string' ? part.content : '';
  for (const call of part.tool_calls ?? [])
    if (typeof call.function?.arguments === 'string') text += call.function.arguments;
  return text;
}
