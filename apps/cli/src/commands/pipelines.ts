import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CreatePipelineRequest, Pipeline } from '@aicloud/contracts';
import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { outputFormat, print, table, UsageError } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

function details(pipeline: Pipeline): string {
  return [
    `${pipeline.id} (${pipeline.name})  ${pipeline.status}${pipeline.reason ? `: ${pipeline.reason}` : ''}`,
    `  team, owner  ${pipeline.team}, ${pipeline.owner}`,
    table(
      ['STEP', 'STATUS', 'ATTEMPT', 'JOB', 'OUTPUT', 'REASON'],
      pipeline.steps.map((step) => [
        step.name,
        step.status,
        step.attempt,
        step.jobId,
        step.outputHash ? step.outputHash.slice(0, 12) : null,
        step.reason,
      ]),
    ),
  ].join('\n');
}

/** The pipeline spec of a file: JSON as is, or a Python file's `--aicloud-spec` output (aicloud_sdk). */
export function readSpec(file: string): CreatePipelineRequest {
  const path = resolve(file);
  let text: string;
  if (path.endsWith('.py')) {
    try {
      text = execFileSync('python3', [path, '--aicloud-spec'], { encoding: 'utf8' });
    } catch (error) {
      throw new UsageError(`python3 ${file} --aicloud-spec failed: ${(error as Error).message}`);
    }
  } else text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as CreatePipelineRequest;
  } catch {
    throw new UsageError(`${file}: not a pipeline spec (JSON expected)`);
  }
}

/** `aicloud pipelines run FILE | list | get ID | logs ID STEP | cancel ID | retry ID`. */
export function pipelinesCommand(): Command {
  const pipelines = new Command('pipelines').description(
    'pipelines: DAGs of steps, each an ordinary job (retries, caching, artifacts by reference)',
  );
  pipelines
    .command('run')
    .description('submit a pipeline from FILE.py (aicloud_sdk) or FILE.json')
    .argument('<file>')
    .option('--team <team>', 'the team (default: your only team)')
    .addOption(outputOption())
    .action(async (file: string, options: { team?: string; output: string }) => {
      const format = outputFormat(options.output);
      const spec = readSpec(file);
      const pipeline = await client().pipelines.create({
        ...spec,
        ...(options.team ? { team: options.team } : {}),
      });
      print(format, pipeline, () => details(pipeline));
    });
  pipelines
    .command('list')
    .option('--team <team>', 'only this team')
    .addOption(outputOption())
    .action(async (options: { team?: string; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().pipelines.list(options.team);
      print(format, items, () =>
        table(
          ['ID', 'NAME', 'TEAM', 'OWNER', 'STATUS', 'STEPS', 'CREATED'],
          items.map((p) => [
            p.id,
            p.name,
            p.team,
            p.owner,
            p.status,
            p.steps.map((s) => `${s.name}:${s.status}`).join(' '),
            p.createdAt,
          ]),
        ),
      );
    });
  for (const [name, description] of [
    ['get', 'a pipeline and its steps'],
    ['cancel', 'cancel a running pipeline and its running steps'],
    ['retry', 'run a failed or cancelled pipeline again from its unfinished steps'],
  ] as const) {
    pipelines
      .command(name)
      .description(description)
      .argument('<id>')
      .addOption(outputOption())
      .action(async (id: string, options: { output: string }) => {
        const format = outputFormat(options.output);
        const api = client().pipelines;
        const pipeline = await (name === 'get'
          ? api.get(id)
          : name === 'cancel'
            ? api.cancel(id)
            : api.retry(id));
        print(format, pipeline, () => details(pipeline));
      });
  }
  pipelines
    .command('logs')
    .description("a step's log (its latest attempt's job)")
    .argument('<id>')
    .argument('<step>')
    .action(async (id: string, stepName: string) => {
      const api = client();
      const pipeline = await api.pipelines.get(id);
      const step = pipeline.steps.find((s) => s.name === stepName);
      if (!step) {
        throw new UsageError(
          `pipeline ${id} has no step ${stepName} (it has: ${pipeline.steps.map((s) => s.name).join(', ')})`,
        );
      }
      if (!step.jobId) throw new UsageError(`step ${stepName} has not run yet (${step.status})`);
      for await (const chunk of api.jobs.logs(step.jobId)) process.stdout.write(chunk);
    });
  return pipelines;
}
