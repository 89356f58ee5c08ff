import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { ago, outputFormat, print, table } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

/** `aicloud teams list|get|create|add-member`. */
export function teamsCommand(): Command {
  const teams = new Command('teams').description('teams and their members');
  teams
    .command('list')
    .description('teams you can see (all of them for platform-admins)')
    .addOption(outputOption())
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().teams.list();
      print(format, items, () =>
        table(
          ['NAME', 'MEMBERS', 'CREATED'],
          items.map((team) => [
            team.name,
            team.members.map((member) => `${member.user} (${member.role})`).join(', '),
            ago(team.createdAt),
          ]),
        ),
      );
    });
  teams
    .command('get')
    .description('one team and its members')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const team = await client().teams.get(name);
      print(
        format,
        team,
        () =>
          `team ${team.name}\n\n${table(
            ['USER', 'ROLE'],
            team.members.map((member) => [member.user, member.role]),
          )}`,
      );
    });
  teams
    .command('create')
    .description('create a team (platform-admins only)')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const team = await client().teams.create(name);
      print(
        format,
        team,
        () =>
          `Created team ${team.name}. Add people with: aicloud teams add-member ${team.name} USER [--role manager]`,
      );
    });
  teams
    .command('add-member')
    .description('add a user to a team (created if new), or change their role (platform-admins only)')
    .argument('<team>')
    .argument('<user>')
    .addOption(
      new Option('--role <role>', 'role in the team').choices(['member', 'manager']).default('member'),
    )
    .addOption(outputOption())
    .action(
      async (teamName: string, user: string, options: { role: 'member' | 'manager'; output: string }) => {
        const format = outputFormat(options.output);
        const team = await client().teams.addMember(teamName, { user, role: options.role });
        print(format, team, () => `${user} is now a ${options.role} of ${team.name}.`);
      },
    );
  return teams;
}
