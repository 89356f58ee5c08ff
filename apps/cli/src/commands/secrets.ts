import { ApiError } from '@aicloud/client';
import { Command, Option } from 'commander';
import { client, teamOf } from '../context.ts';
import { ago, outputFormat, print, table, UsageError } from '../output.ts';
import { readSecretValue } from '../secret-input.ts';

/** The secrets "team" of platform secrets (an external provider's key): platform-admins only. */
const PLATFORM = '_platform';

/** The team a secrets command acts on: `--platform`, `--team`, or the caller's only team. */
async function targetOf(options: { team?: string; platform?: boolean }): Promise<string> {
  if (options.platform && options.team) throw new UsageError('pass --team or --platform, not both');
  return options.platform ? PLATFORM : teamOf(options.team);
}

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
    .option('--platform', "a platform secret (platform-admins), e.g. an external provider's API key")
    .action(async (name: string, options: { team?: string; platform?: boolean }) => {
      const team = await targetOf(options);
      const value = await readSecretValue(`value for ${name}: `);
      if (!value)
        throw new UsageError(
          'empty value: pipe it on stdin (printf %s "$VALUE" | aicloud secrets set NAME) or type it at the prompt',
        );
      await client()
        .secrets.set(team, name, value)
        .catch((error: unknown) => {
          // The platform's secrets are hidden from everyone else as if absent (404): say why instead.
          if (team === PLATFORM && error instanceof ApiError && error.code === 'not_found')
            throw new UsageError(
              `cannot set platform secret ${name}: only platform-admins set platform secrets (an external provider's key); ask one, or set a team secret with --team`,
            );
          throw error;
        });
      process.stdout.write(
        team === PLATFORM
          ? `Platform secret ${name} set. Name it as a provider's key: aicloud providers add NAME --key-secret ${name} …\n`
          : `Secret ${name} set for ${team}. Use it with: aicloud create job … --secret ${name}\n`,
      );
    });
  secrets
    .command('list')
    .description("your team's secrets (names only)")
    .option('--team <team>', 'the team (default: your only team)')
    .option('--platform', "a platform secret (platform-admins), e.g. an external provider's API key")
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (options: { team?: string; platform?: boolean; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().secrets.list(await targetOf(options));
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
    .option('--platform', "a platform secret (platform-admins), e.g. an external provider's API key")
    .action(async (name: string, options: { team?: string; platform?: boolean }) => {
      const team = await targetOf(options);
      await client().secrets.delete(team, name);
      process.stdout.write(`Deleted secret ${name} of ${team}.\n`);
    });
  return secrets;
}
