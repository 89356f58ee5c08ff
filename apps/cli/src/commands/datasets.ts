import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, table, UsageError } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

function collectTag(value: string, previous: Record<string, string>): Record<string, string> {
  const index = value.indexOf('=');
  if (index <= 0) throw new UsageError(`--tag takes key=value, got '${value}'`);
  return { ...previous, [value.slice(0, index)]: value.slice(index + 1) };
}

const classificationOption = (description: string) =>
  new Option('--classification <level>', description).choices(['public', 'internal', 'confidential', 'pii']);

/** `aicloud datasets register|attest|list|show`. */
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
    .option(
      '--encrypted',
      'your claim: the data is encrypted at rest (a fact once a platform-admin attests it)',
      false,
    )
    .addOption(
      classificationOption('your claim of its sensitivity (a fact once a platform-admin attests it)'),
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
            `Registered ${dataset.path} at ${dataset.location} (${dataset.classification ?? 'no classification'}, ${dataset.encrypted ? 'encrypted' : 'not encrypted'}).`,
            dataset.inApprovedLocation
              ? "It lies in the team's part of the approved data lake."
              : "Note: it lies OUTSIDE the team's part of the approved data lake; policies will refuse jobs that read it.",
            ...(dataset.attestedBy
              ? []
              : [
                  `Your claim (${dataset.claimed.classification ?? 'no classification'}, ${dataset.claimed.encrypted ? 'encrypted' : 'not encrypted'}) is recorded; policies read attested facts: ask a platform-admin to run aicloud datasets attest ${dataset.path}${dataset.claimed.encrypted ? ' --encrypted' : ''}${dataset.claimed.classification ? ` --classification ${dataset.claimed.classification}` : ''}`,
                ]),
          ].join('\n'),
        );
      },
    );
  datasets
    .command('attest')
    .description(
      "attest a dataset's encryption and classification, the facts policies read (platform-admins)",
    )
    .argument('<path>', 'e.g. projects/legal-rag/datasets/v3')
    .option('--encrypted', 'it is encrypted at rest')
    .option('--not-encrypted', 'it is not encrypted at rest')
    .addOption(classificationOption('its sensitivity'))
    .addOption(outputOption())
    .action(
      async (
        path: string,
        options: {
          encrypted?: boolean;
          notEncrypted?: boolean;
          classification?: 'public' | 'internal' | 'confidential' | 'pii';
          output: string;
        },
      ) => {
        const format = outputFormat(options.output);
        if (options.encrypted && options.notEncrypted)
          throw new UsageError('give at most one of --encrypted and --not-encrypted');
        if (!options.encrypted && !options.notEncrypted && !options.classification)
          throw new UsageError('give --encrypted, --not-encrypted or --classification LEVEL');
        const dataset = await client().datasets.attest({
          path,
          ...(options.encrypted || options.notEncrypted ? { encrypted: Boolean(options.encrypted) } : {}),
          ...(options.classification ? { classification: options.classification } : {}),
        });
        print(
          format,
          dataset,
          () =>
            `Attested ${dataset.path}: ${dataset.classification ?? 'no classification'}, ${dataset.encrypted ? 'encrypted' : 'not encrypted'} (by ${dataset.attestedBy}).`,
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
          `  attested        ${dataset.attestedBy ? `${dataset.attestedAt} by ${dataset.attestedBy}` : 'no'}`,
          `  claimed         ${dataset.claimed.classification ?? 'no classification'}, ${dataset.claimed.encrypted ? 'encrypted' : 'not encrypted'}`,
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
