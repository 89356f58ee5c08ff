import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { ago, outputFormat, print, table } from '../output.ts';

/** `aicloud tokens create|list|revoke`. */
export function tokensCommand(): Command {
  const tokens = new Command('tokens').description('your API tokens');
  tokens
    .command('create')
    .description('create an API token; its secret is shown once')
    .argument('<name>', 'a name to recognise it by')
    .option('--expires-in <duration>', 'lifetime, e.g. 12h or 30d (default: no expiry)')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (name: string, options: { expiresIn?: string; output: string }) => {
      const format = outputFormat(options.output);
      const created = await client().tokens.create({
        name,
        ...(options.expiresIn ? { expiresIn: options.expiresIn } : {}),
      });
      print(format, created, () =>
        [
          `Created token ${created.name} (${created.id})${created.expiresAt ? `, expires ${created.expiresAt}` : ''}.`,
          'Copy it now: it is not shown again.',
          '',
          created.token,
        ].join('\n'),
      );
    });
  tokens
    .command('list')
    .description('your tokens (never their secrets)')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().tokens.list();
      print(format, items, () =>
        table(
          ['ID', 'NAME', 'PREFIX', 'CREATED', 'EXPIRES', 'REVOKED', 'LAST USED'],
          items.map((token) => [
            token.id,
            token.name,
            `${token.prefix}…`,
            ago(token.createdAt),
            ago(token.expiresAt),
            ago(token.revokedAt),
            ago(token.lastUsedAt),
          ]),
        ),
      );
    });
  tokens
    .command('revoke')
    .description('revoke one of your tokens')
    .argument('<id>', 'the token id (tok_…)')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const revoked = await client().tokens.revoke(id);
      print(format, revoked, () => `Revoked token ${revoked.name} (${revoked.id}).`);
    });
  return tokens;
}
