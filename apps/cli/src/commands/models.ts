import { resolve } from 'node:path';
import type { ModelVersion } from '@aicloud/contracts';
import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { ago, outputFormat, print, table, UsageError } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');
const teamOption = () => new Option('--team <team>', 'the team whose model it is (when you are in several)');

function collectPair(flag: string) {
  return (value: string, previous: Record<string, string>): Record<string, string> => {
    const index = value.indexOf('=');
    if (index <= 0) throw new UsageError(`${flag} takes key=value, got '${value}'`);
    return { ...previous, [value.slice(0, index)]: value.slice(index + 1) };
  };
}

function toMetrics(pairs: Record<string, string>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pairs).map(([key, value]) => {
      const number = Number(value);
      if (value.trim() === '' || !Number.isFinite(number))
        throw new UsageError(`--metric ${key} needs a number, got '${value}'`);
      return [key, number];
    }),
  );
}

function parseVersion(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`version must be a number ≥ 1, got '${value}'`);
  return Number(value);
}

function bytes(size: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

const VERDICT_NOTE: Record<ModelVersion['scanVerdict'], string> = {
  passed: 'passed',
  needs_review: 'NEEDS REVIEW (deploying it needs approval)',
  blocked: 'BLOCKED (it will never deploy)',
  quarantined: 'QUARANTINED (the scanner could not parse it; it will not deploy)',
};

/** A version as people read it: files, scan findings, metrics, lineage. */
export function describeVersion(version: ModelVersion): string {
  const lines = [
    `${version.model}@${version.version}  (team ${version.team})`,
    `  source          ${version.source}`,
    `  runtime         ${version.runtime}`,
    `  scan            ${VERDICT_NOTE[version.scanVerdict]}${version.scan.safetensorsPreferred ? '; weights are safetensors' : ''}`,
    `  trust remote    ${version.trustRemoteCode ? 'yes' : 'no'}`,
    `  aliases         ${version.aliases.join(', ') || '-'}`,
    `  metrics         ${
      Object.entries(version.metrics)
        .map(([key, value]) => `${key}=${value}`)
        .join(', ') || '-'
    }`,
    `  tags            ${
      Object.entries(version.tags)
        .map(([key, value]) => `${key}=${value}`)
        .join(', ') || '-'
    }`,
    `  lineage         ${version.lineage.jobId ? `job ${version.lineage.jobId}` : '-'}${
      version.lineage.datasets.length > 0 ? ` on ${version.lineage.datasets.join(', ')}` : ''
    }`,
    `  artifact        ${version.artifactDir ?? '- (not fetched)'}`,
    `  registered      ${version.createdAt} by ${version.createdBy}`,
  ];
  for (const problem of version.scan.problems) lines.push(`  ! ${problem}`);
  if (version.scan.files.length > 0) {
    lines.push('', 'Files:');
    lines.push(
      table(
        ['PATH', 'FORMAT', 'SIZE', 'VERDICT', 'SHA256'],
        version.scan.files.map((file) => [
          file.path,
          file.format,
          bytes(file.size),
          file.verdict,
          file.sha256.slice(0, 16),
        ]),
      ),
    );
    const flagged = version.scan.files.flatMap((file) =>
      file.imports
        .filter((found) => found.classification !== 'allowed')
        .map((found) => [
          file.path + (found.entry ? `!${found.entry}` : ''),
          `${found.module}.${found.name}`,
          found.classification,
          found.reason,
        ]),
    );
    if (flagged.length > 0)
      lines.push('', 'Flagged imports:', table(['FILE', 'IMPORT', 'CLASS', 'WHY'], flagged));
    const problems = version.scan.files.flatMap((file) =>
      file.problems.map((problem) => `  ${file.path}: ${problem}`),
    );
    if (problems.length > 0) lines.push('', 'Problems:', ...problems);
  }
  return lines.join('\n');
}

/** `aicloud models register|list|show|versions|alias`. */
export function modelsCommand(): Command {
  const models = new Command('models').description(
    'the model registry: scanned, immutable versions and aliases',
  );
  models
    .command('register')
    .description('register the next version of a model; local files are copied and scanned')
    .argument('<name>', 'the model, e.g. legal-answerer')
    .option(
      '--path <dir>',
      "a directory (or file) on the server machine, inside one of your team's import roots (DATA_DIR/imports/TEAM by default)",
    )
    .option('--source <source>', 'hf://org/name@revision or job:<id>')
    .option('--runtime <runtime>', 'the runtime that serves it: aicloud-tiny, vllm, llama.cpp, …')
    .option('--tag <key=value>', 'a tag (repeatable)', collectPair('--tag'), {})
    .option('--metric <key=value>', 'a metric (repeatable)', collectPair('--metric'), {})
    .option(
      '--trust-remote-code',
      "run the model's own Python code (only for sources pinned to a commit)",
      false,
    )
    .addOption(teamOption())
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  aicloud models register legal-answerer --path ./out --metric accuracy=0.91 --tag stage=dev
  aicloud models register llama --source hf://meta-llama/Llama-3.2-1B@4e20de3 --runtime vllm
  aicloud models register legal-answerer --source job:job_3f9c1a7b2d4e

--path reads only from the team's import roots: DATA_DIR/imports/TEAM, and the directories given to
\`aicloud up --import-root TEAM=DIR\`. Links may not lead out of the root; hard links, fifos, sockets and
devices are refused; one registration copies at most 20 GiB (\`aicloud up --import-max-bytes\`).`,
    )
    .action(
      async (
        name: string,
        options: {
          path?: string;
          source?: string;
          runtime?: string;
          tag: Record<string, string>;
          metric: Record<string, string>;
          trustRemoteCode: boolean;
          team?: string;
          output: string;
        },
      ) => {
        const format = outputFormat(options.output);
        if (Boolean(options.path) === Boolean(options.source))
          throw new UsageError('give exactly one of --path DIR or --source hf://org/name@revision|job:ID');
        const source = options.path ? `path:${resolve(options.path)}` : options.source!;
        const version = await client().models.register({
          name,
          source,
          ...(options.team ? { team: options.team } : {}),
          ...(options.runtime ? { runtime: options.runtime } : {}),
          tags: options.tag,
          metrics: toMetrics(options.metric),
          trustRemoteCode: options.trustRemoteCode,
        });
        print(
          format,
          version,
          () => `Registered ${version.model}@${version.version}.\n\n${describeVersion(version)}`,
        );
      },
    );
  models
    .command('list')
    .description("your teams' models")
    .addOption(teamOption())
    .addOption(outputOption())
    .action(async (options: { team?: string; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().models.list(options.team);
      print(format, items, () =>
        table(
          ['NAME', 'TEAM', 'LATEST', 'VERSIONS', 'ALIASES', 'CREATED'],
          items.map((model) => [
            model.name,
            model.team,
            model.latestVersion,
            model.versionCount,
            Object.entries(model.aliases)
              .map(([alias, version]) => `${alias}→${version}`)
              .join(', '),
            ago(model.createdAt),
          ]),
        ),
      );
    });
  models
    .command('show')
    .description('one model: aliases and its latest version')
    .argument('<name>')
    .addOption(teamOption())
    .addOption(outputOption())
    .action(async (name: string, options: { team?: string; output: string }) => {
      const format = outputFormat(options.output);
      const model = await client().models.show(name, options.team);
      print(format, model, () =>
        [
          `${model.name}  (team ${model.team}, ${model.versionCount} version(s), created ${model.createdAt} by ${model.createdBy})`,
          `  aliases  ${
            Object.entries(model.aliases)
              .map(([alias, version]) => `${alias}→${version}`)
              .join(', ') || '-'
          }`,
          '',
          model.latest ? describeVersion(model.latest) : 'No versions yet.',
        ].join('\n'),
      );
    });
  models
    .command('versions')
    .description("a model's versions")
    .argument('<name>')
    .addOption(teamOption())
    .addOption(outputOption())
    .action(async (name: string, options: { team?: string; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().models.versions(name, options.team);
      print(format, items, () =>
        table(
          ['VERSION', 'SCAN', 'RUNTIME', 'SOURCE', 'ALIASES', 'METRICS', 'CREATED'],
          items.map((version) => [
            version.version,
            version.scanVerdict,
            version.runtime,
            version.source,
            version.aliases.join(', '),
            Object.entries(version.metrics)
              .map(([key, value]) => `${key}=${value}`)
              .join(' '),
            ago(version.createdAt),
          ]),
        ),
      );
    });
  models
    .command('alias')
    .description('point an alias (champion, production, …) at a version')
    .argument('<name>')
    .argument('<alias>')
    .argument('<version>')
    .addOption(teamOption())
    .addOption(outputOption())
    .action(
      async (name: string, alias: string, version: string, options: { team?: string; output: string }) => {
        const format = outputFormat(options.output);
        const model = await client().models.setAlias(name, alias, parseVersion(version), options.team);
        print(format, model, () => `${model.name}@${alias} now points at version ${model.aliases[alias]}.`);
      },
    );
  return models;
}
