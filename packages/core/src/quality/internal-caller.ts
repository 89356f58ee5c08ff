import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import { newId } from '../ids.ts';
import { hashKey } from '../serving/endpoint-service.ts';
import { INTERNAL_EVAL_KEY } from '../serving/gateway.ts';
import type { Database } from '../store/schema.ts';

/** An endpoint's chat completions through the platform's own gateway, with a short-lived internal key. */
export interface InternalCaller {
  readonly keyId: string;
  /** The answer's text, or null when the gateway or the replica refused or failed. */
  chat(prompt: string): Promise<string | null>;
}

/**
 * Creates a platform-internal key for one evaluation run (never shown to anyone, revoked at the end): the
 * requests go through the endpoint's gateway path like any client's and are metered to its team as inference.
 */
export async function createInternalCaller(
  trx: Transaction<Database>,
  options: { apiUrl: string; endpoint: { id: string; name: string; team: string }; at: string },
): Promise<InternalCaller & { secretHash: string }> {
  const secret = `sk-aic-${randomBytes(24).toString('base64url')}`;
  const keyId = newId('key');
  await trx
    .insertInto('endpoint_keys')
    .values({
      id: keyId,
      endpoint_id: options.endpoint.id,
      team: options.endpoint.team,
      name: INTERNAL_EVAL_KEY,
      prefix: secret.slice(0, 12),
      hash: hashKey(secret),
      rpm: null,
      tpm: null,
      max_tokens_per_period: null,
      period: null,
      created_by: 'system',
      created_at: options.at,
      revoked_at: null,
    })
    .execute();
  return {
    keyId,
    secretHash: hashKey(secret),
    async chat(prompt) {
      try {
        const response = await fetch(`${options.apiUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: options.endpoint.name,
            messages: [{ role: 'user', content: prompt }],
            max_tokens: 256,
            temperature: 0,
          }),
          signal: AbortSignal.timeout(120_000),
        });
        if (!response.ok) return null;
        const body = (await response.json()) as { choices?: { message?: { content?: unknown } }[] };
        const content = body.choices?.[0]?.message?.content;
        return typeof content === 'string' ? content : null;
      } catch {
        return null;
      }
    },
  };
}
