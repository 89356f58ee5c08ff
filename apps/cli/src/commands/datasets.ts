import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, table, UsageError } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

function collectTag(value: string, previous: Record<string, string>): Record<string, string> {
  const index = value.indexOf('=');
  if (index <= 0) throw new UsageError(`--tag takes key=value, got '${value}'`);
  return { ...previous, [value.slice(0, index)]: value.slice(index + 1) };
}

/** `aicloud datasets register|list|show`. */
export function datasetsCommand(): Command {
  const datasets = new Command('datasets').description('registered datasets (what jobs may read)');
  datasets
    .command('register')
    .description('register a dataset under projects/<your team>/datasets/<name>')
    .argument('<path>', 'e.g. projects/legal-rag/datasets/v3')
    .requiredOption(
      '--location <uri>',
      'where the data lies, e.g. file:///data/lake/legal-rag/v3 or s3://lake/legal-rag/v3',
    )
    .option('--encrypted', 'the data is encrypted at rest', false)
    .addOption(
      new Option('--classification <level>', 'sensitivity').choices([
        'public',
        'internal',
        'confidential',
        'pii',
      ]),
    )
    .option('--tag <key=value>', 'a tag (repeatable)', collectTag, {})
    .addOption(outputOption())
    .action(
      async (
        path: string,
        options: {
          location: string;
          encrypted: boolean;
          classification?: 'public' | 'internal' | 'confidential' | 'pii';
          tag: Record<string, string>;
          output: string;
        },
      ) => {
        const format = outputFormat(options.output);
        const dataset = await client().datasets.register({
          path,
          location: options.location,
          encrypted: options.encrypted,
          ...(options.classification ? { classification: options.classification } : {}),
          tags: options.tag,
        });
        print(format, dataset, () =>
          [
            `Registered ${dataset.path} (${dataset.classification ?? 'no classification'}, ${dataset.encrypted ? 'encrypted' : 'not encrypted'}).`,
            dataset.inApprovedLocation
              ? 'It lies in the approved data lake.'
              : 'Note: it lies OUTSIDE the approved data lake; policies will refuse jobs that read it.',
          ].join('\n'),
        );
      },
    );
  datasets
    .command('list')
    .description("your teams' datasets")
    .addOption(outputOption())
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().datasets.list();
      print(format, items, () =>
        table(
          ['PATH', 'CLASSIFICATION', 'ENCRYPTED', 'IN LAKE', 'LOCATION'],
          items.map((dataset) => [
            dataset.path,
            dataset.classification,
            dataset.encrypted ? 'yes' : 'no',
            dataset.inApprovedLocation ? 'yes' : 'no',
            dataset.location,
          ]),
        ),
      );
    });
  datasets
    .command('show')
    .description('one dataset')
    .argument('<path>')
    .addOption(outputOption())
    .action(async (path: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const dataset = await client().datasets.get(path);
      print(format, dataset, () =>
        [
          dataset.path,
          `  team            ${dataset.team}`,
          `  location        ${dataset.location}`,
          `  in lake         ${dataset.inApprovedLocation ? 'yes' : 'no'}`,
          `  encrypted       ${dataset.encrypted ? 'yes' : 'no'}`,
          `  classification  ${dataset.classification ?? '-'}`,
          `  tags            ${
            Object.entries(dataset.tags)
              .map(([key, value]) => `${key}=${value}`)
              .join(', ') || '-'
          }`,
          `  registered      ${dataset.createdAt} by ${dataset.registeredBy}`,
        ].join('\n'),
      );
    });
  return datasets;
}
