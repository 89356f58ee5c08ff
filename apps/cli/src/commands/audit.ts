import { cliExitCodes } from '@aicloud/contracts/exit-codes';
import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, table } from '../output.ts';

/** `aicloud audit list|verify`. */
export function auditCommand(): Command {
  const audit = new Command('audit').description('the hash-chained audit trail');
  audit
    .command('list')
    .description('audit records, newest first (yours; your teams’ as manager; all as platform-admin)')
    .option('--actor <user>', 'only records by this user')
    .option('--action <action>', 'only this action; * matches anything (e.g. "team.*")')
    .option('--resource <resource>', 'only this resource; * matches anything (e.g. "job/*")')
    .option('--since <time>', 'ISO 8601 time, e.g. 2026-11-27T00:00:00Z')
    .option('--until <time>', 'ISO 8601 time')
    .option('--limit <n>', 'at most this many records', '100')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(
      async (options: {
        actor?: string;
        action?: string;
        resource?: string;
        since?: string;
        until?: string;
        limit: string;
        output: string;
      }) => {
        const format = outputFormat(options.output);
        const { items } = await client().audit.list({
          actor: options.actor,
          action: options.action,
          resource: options.resource,
          since: options.since,
          until: options.until,
          limit: Number(options.limit),
        });
        print(format, items, () =>
          table(
            ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'RESOURCE', 'OUTCOME', 'REQUEST'],
            items.map((record) => [
              record.seq,
              record.time,
              record.actor,
              record.action,
              record.resource,
              record.outcome,
              record.requestId,
            ]),
          ),
        );
      },
    );
  audit
    .command('verify')
    .description(
      'check the whole hash chain; names the first record edited, removed or reordered (platform-admins)',
    )
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const result = await client().audit.verify();
      print(format, result, () =>
        result.ok
          ? `audit chain intact: ${result.checked} records verified`
          : `audit chain BROKEN after ${result.checked} good records: ${result.firstBad?.message}`,
      );
      if (!result.ok) process.exitCode = cliExitCodes.auditChainBroken;
    });
  return audit;
}
