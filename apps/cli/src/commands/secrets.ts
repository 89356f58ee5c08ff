import { Command, Option } from 'commander';
import { client, teamOf } from '../context.ts';
import { ago, outputFormat, print, table, UsageError } from '../output.ts';
import { readSecretValue } from '../secret-input.ts';

/** `aicloud secrets set|list|delete`. */
export function secretsCommand(): Command {
  const secrets = new Command('secrets').description(
    'team secrets, encrypted at rest and injected into jobs as environment variables',
  );
  secrets
    .command('set')
    .description('set a secret; the value is read from stdin or a hidden prompt, never from an argument')
    .argument('<name>', 'an environment variable name, e.g. HF_TOKEN')
    .option('--team <team>', 'the team (default: your only team)')
    .action(async (name: string, options: { team?: string }) => {
      const team = await teamOf(options.team);
      const value = await readSecretValue(`value for ${name}: `);
      if (!value)
        throw new UsageError(
          'empty value: pipe it on stdin (printf %s "$VALUE" | aicloud secrets set NAME) or type it at the prompt',
        );
      await client().secrets.set(team, name, value);
      process.stdout.write(
        `Secret ${name} set for ${team}. Use it with: aicloud create job … --secret ${name}\n`,
      );
    });
  secrets
    .command('list')
    .description("your team's secrets (names only)")
    .option('--team <team>', 'the team (default: your only team)')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (options: { team?: string; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().secrets.list(await teamOf(options.team));
      print(format, items, () =>
        table(
          ['NAME', 'TEAM', 'CREATED BY', 'UPDATED'],
          items.map((item) => [item.name, item.team, item.createdBy, ago(item.updatedAt)]),
        ),
      );
    });
  secrets
    .command('delete')
    .description('delete a secret')
    .argument('<name>')
    .option('--team <team>', 'the team (default: your only team)')
    .action(async (name: string, options: { team?: string }) => {
      const team = await teamOf(options.team);
      await client().secrets.delete(team, name);
      process.stdout.write(`Deleted secret ${name} of ${team}.\n`);
    });
  return secrets;
}
