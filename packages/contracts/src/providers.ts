import { z } from 'zod';
import { contractRoute, itemsOf } from './contract-route.ts';
import { UsdAmount } from './usd-amount.ts';

/** A provider's name: the part of `<provider>/<model>` before the slash. */
export const ProviderName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,39}$/, 'lower-case letters, digits and dashes, 2-40, starting with a letter');

/** A model name at a provider (`gpt-4o-mini`, `claude-3-5-haiku-latest`). */
export const ProviderModelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'letters, digits and . _ : @ -, 1-128');

/** `<provider>/<model>`: how teams name a provider's model in `/v1/chat/completions`. */
export const ProviderModelRef = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,39}\/[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, '<provider>/<model>');

/** One model a provider serves, priced per million tokens (USD). */
export const ProviderModel = z.strictObject({
  name: ProviderModelName,
  inputUsdPerMTok: UsdAmount,
  outputUsdPerMTok: UsdAmount,
});
export type ProviderModel = z.infer<typeof ProviderModel>;

/** What the PII detector does with findings in a prompt: replace them, or refuse the request. */
export const PiiMode = z.enum(['redact', 'block']);
export type PiiMode = z.infer<typeof PiiMode>;

/** Registers an external provider (platform-admins only). */
export const RegisterProviderRequest = z.strictObject({
  name: ProviderName,
  /** OpenAI-compatible base URL, up to `/v1` (`https://api.openai.com/v1`). */
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .refine((url) => !/[?#]/.test(url), 'no query or fragment'),
  /** The NAME of the platform secret holding the provider's API key; the key itself is never sent here. */
  keySecret: z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'a platform secret name (A-Z, 0-9, _)'),
  models: z.array(ProviderModel).min(1).max(64),
  piiMode: PiiMode.default('redact'),
  fallbacks: z.array(ProviderModelRef).max(8).default([]),
});
export type RegisterProviderRequest = z.input<typeof RegisterProviderRequest>;

/** A provider as platform-admins see it: never the key, only the name of its secret. */
export const Provider = z.object({
  name: z.string(),
  baseUrl: z.string(),
  keySecret: z.string(),
  models: z.array(ProviderModel),
  piiMode: PiiMode,
  fallbacks: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type Provider = z.infer<typeof Provider>;

/** A provider as members see it: its name and models, nothing about how it is reached. */
export const ProviderSummary = z.object({
  name: z.string(),
  models: z.array(ProviderModel),
  piiMode: PiiMode,
});
export type ProviderSummary = z.infer<typeof ProviderSummary>;

/** External AI providers reached through the gateway by `<provider>/<model>`. */
export const providerRoutes = {
  registerProvider: contractRoute({
    method: 'POST',
    path: '/v1/providers',
    summary:
      'Register an external OpenAI-compatible provider (platform-admins); its key is named by a platform secret, never stored here',
    tag: 'providers',
    body: RegisterProviderRequest,
    response: Provider,
    status: 201,
  }),
  listProviders: contractRoute({
    method: 'GET',
    path: '/v1/providers',
    summary: 'External providers and their models (platform-admins also see base URLs and secret names)',
    tag: 'providers',
    response: itemsOf(z.union([Provider, ProviderSummary])),
  }),
  deleteProvider: contractRoute({
    method: 'DELETE',
    path: '/v1/providers/:name',
    summary: 'Remove an external provider (platform-admins)',
    tag: 'providers',
    response: z.object({ deleted: z.literal(true) }),
  }),
};
