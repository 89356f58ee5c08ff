import { Command } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, table } from '../output.ts';

/** `aicloud whoami`. */
export function whoamiCommand(): Command {
  return new Command('whoami')
    .description('show who you are signed in as, and your teams')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const me = await client().whoami();
      print(format, me, () =>
        [
          `user   ${me.user.name}${me.user.platformAdmin ? ' (platform-admin)' : ''}`,
          `token  ${me.token.name} (${me.token.id})${me.token.expiresAt ? `, expires ${me.token.expiresAt}` : ''}`,
          '',
          table(
            ['TEAM', 'ROLE'],
            me.memberships.map((membership) => [membership.team, membership.role]),
          ),
        ].join('\n'),
      );
    });
}
