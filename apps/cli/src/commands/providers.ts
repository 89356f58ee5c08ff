import type { Provider, ProviderModel, ProviderSummary } from '@aicloud/contracts';
import { Command, InvalidArgumentError, Option } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, table, UsageError } from '../output.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

/** Parses `--model name=gpt-4o-mini,input=0.15,output=0.6` (USD per million tokens). */
export function parseModel(value: string, previous: ProviderModel[]): ProviderModel[] {
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    const equals = part.indexOf('=');
    const key = part.slice(0, equals).trim();
    if (equals <= 0 || !['name', 'input', 'output'].includes(key) || fields.has(key))
      throw new InvalidArgumentError(
        `'${part}' is not one of name=…, input=USD, output=USD (each once), e.g. name=gpt-4o-mini,input=0.15,output=0.6`,
      );
    fields.set(key, part.slice(equals + 1).trim());
  }
  const name = fields.get('name');
  if (!name) throw new InvalidArgumentError('needs name=MODEL, e.g. name=gpt-4o-mini,input=0.15,output=0.6');
  const price = (key: 'input' | 'output') => {
    const text = fields.get(key);
    const parsed = Number(text);
    if (text === undefined || text === '' || !Number.isFinite(parsed) || parsed < 0)
      throw new InvalidArgumentError(
        `${name} needs ${key}=USD per million ${key} tokens (0 or more), e.g. ${key}=${key === 'input' ? '0.15' : '0.6'}`,
      );
    return parsed;
  };
  return [...previous, { name, inputUsdPerMTok: price('input'), outputUsdPerMTok: price('output') }];
}

function piiMode(value: string): 'redact' | 'block' {
  if (value === 'redact' || value === 'block') return value;
  throw new InvalidArgumentError(
    'must be redact (replace findings, then forward) or block (refuse the request)',
  );
}

const perMillion = (usd: number) => `$${usd.toFixed(usd < 0.01 && usd > 0 ? 4 : 2)}`;

/** One row per model, as teams name it (`<provider>/<model>`); admins also see how it is reached. */
function providersTable(items: (Provider | ProviderSummary)[]): string {
  if (items.length === 0)
    return 'No external providers. A platform-admin registers one with: aicloud providers add NAME --base-url URL --key-secret SECRET --model name=…,input=…,output=…';
  const admin = items.some((item) => 'baseUrl' in item);
  const headers = ['MODEL', 'INPUT $/1M', 'OUTPUT $/1M', 'PII'];
  if (admin) headers.push('FALLBACKS', 'KEY SECRET', 'BASE URL');
  const rows = items.flatMap((item) =>
    item.models.map((model) => {
      const row = [
        `${item.name}/${model.name}`,
        perMillion(model.inputUsdPerMTok),
        perMillion(model.outputUsdPerMTok),
        item.piiMode,
      ];
      if ('baseUrl' in item) row.push(item.fallbacks.join(',') || '-', item.keySecret, item.baseUrl);
      return row;
    }),
  );
  return table(headers, rows);
}

/** `aicloud providers add|list|remove`: external OpenAI-compatible providers behind the gateway. */
export function providersCommand(): Command {
  const providers = new Command('providers')
    .description(
      'external AI providers (OpenAI-compatible) that teams call through the gateway as <provider>/<model>',
    )
    .addHelpText(
      'after',
      `
Prompts to a provider pass the PII and secret detector (redact or block) and never carry data from a
confidential or pii dataset; usage is metered per million tokens at the prices given here. See
docs/gateway-providers.md.`,
    );
  providers
    .command('add')
    .description(
      "register a provider (platform-admins); its API key is a platform secret, set first with 'aicloud secrets set --platform NAME'",
    )
    .argument('<name>', 'the provider name teams use before the slash, e.g. openai')
    .requiredOption(
      '--base-url <url>',
      'the OpenAI-compatible base URL, up to /v1 (https://api.openai.com/v1)',
    )
    .requiredOption(
      '--key-secret <NAME>',
      'the platform secret that holds the API key (its name, never the key)',
    )
    .option(
      '--model <name=…,input=USD,output=USD>',
      'a model and its price in USD per million input/output tokens (repeatable, at least one)',
      parseModel,
      [],
    )
    .addOption(
      new Option('--pii <mode>', 'what a finding of the detector does: redact it, or block the request')
        .argParser(piiMode)
        .default('redact'),
    )
    .option(
      '--fallback <provider/model>',
      'tried in order when this provider fails (5xx, timeout) (repeatable)',
      collect,
      [],
    )
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .addHelpText(
      'after',
      `
Examples:
  printf %s "$OPENAI_API_KEY" | aicloud secrets set --platform OPENAI_KEY
  aicloud providers add openai --base-url https://api.openai.com/v1 --key-secret OPENAI_KEY \\
    --model name=gpt-4o-mini,input=0.15,output=0.6 --model name=gpt-4o,input=2.5,output=10
  aicloud providers add azure --base-url https://example.openai.azure.com/openai/v1 --key-secret AZURE_KEY \\
    --model name=gpt-4o-mini,input=0.15,output=0.6 --pii block --fallback openai/gpt-4o-mini

Teams then call openai/gpt-4o-mini on /v1/chat/completions with their endpoint keys.`,
    )
    .action(
      async (
        name: string,
        options: {
          baseUrl: string;
          keySecret: string;
          model: ProviderModel[];
          pii: 'redact' | 'block';
          fallback: string[];
          output: string;
        },
      ) => {
        const format = outputFormat(options.output);
        if (options.model.length === 0)
          throw new UsageError(
            'give at least one --model name=MODEL,input=USD,output=USD (USD per million tokens)',
          );
        const provider = await client().providers.register({
          name,
          baseUrl: options.baseUrl,
          keySecret: options.keySecret,
          models: options.model,
          piiMode: options.pii,
          fallbacks: options.fallback,
        });
        print(format, provider, () =>
          [
            `Registered provider ${provider.name} (${provider.baseUrl}); its key is read from platform secret ${provider.keySecret} at each call.`,
            `PII: ${provider.piiMode === 'redact' ? 'findings are redacted before forwarding' : 'a prompt with findings is refused'}.${provider.fallbacks.length > 0 ? ` Fallbacks: ${provider.fallbacks.join(', ')}.` : ''}`,
            `Teams call it as ${provider.models.map((model) => `${provider.name}/${model.name}`).join(', ')} on /v1/chat/completions.`,
          ].join('\n'),
        );
      },
    );
  providers
    .command('list')
    .description(
      'the providers and their models with prices (platform-admins also see base URLs and key secret names)',
    )
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().providers.list();
      print(format, items, () => providersTable(items));
    });
  providers
    .command('remove')
    .description('remove a provider (platform-admins); its key secret stays until you delete it')
    .argument('<name>')
    .action(async (name: string) => {
      await client().providers.remove(name);
      process.stdout.write(
        `Removed provider ${name}; requests for ${name}/… now answer 404. Its key secret stays: aicloud secrets delete --platform NAME\n`,
      );
    });
  return providers;
}
