import type { Job, JobStatus } from '@aicloud/contracts';
import { finalJobStatuses, jobStatuses } from '@aicloud/contracts/status-values';
import { Command, Option } from 'commander';
import { reasonCell, reasonText } from '../admission-text.ts';
import { client } from '../context.ts';
import { ago, at, duration, outputFormat, print, table, usd } from '../output.ts';
import { jobLogsCommand, jobMetricsCommand } from './job-output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

const FINAL: readonly JobStatus[] = finalJobStatuses;

/** What a job costs, as people read it: a finished job its cost; one in flight what it reserved too. */
function costText(job: Job): string {
  if (FINAL.includes(job.status)) return `${usd(job.cost)} (estimated max ${usd(job.estimatedCost)})`;
  return `${usd(job.cost)} so far (estimated max ${usd(job.estimatedCost)}, reserved ${usd(job.reservedCost)})`;
}

/** `aicloud jobs list|get|cancel`. */
export function jobsCommand(): Command {
  const jobs = new Command('jobs').description('your teams’ jobs');
  jobs
    .command('list')
    .description('jobs, newest first, with status, queue position and cost')
    .option('--team <team>', 'only this team')
    .addOption(new Option('--status <status>', 'only this status').choices(jobStatuses))
    .option('--limit <n>', 'at most this many', '100')
    .addOption(outputOption())
    .action(async (options: { team?: string; status?: string; limit: string; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().jobs.list({
        team: options.team,
        status: options.status as never,
        limit: Number(options.limit),
      });
      print(format, items, () =>
        table(
          [
            'ID',
            'NAME',
            'TEAM',
            'OWNER',
            'PRODUCT',
            'GPUS',
            'STATUS',
            'POSITION',
            'EST. COST',
            'COST',
            'CREATED',
            'REASON',
          ],
          items.map((job) => [
            job.id,
            job.name,
            job.team,
            job.owner,
            job.product,
            job.gpus > 0 ? `${job.gpus}×${job.gpuType}` : '0',
            job.status,
            job.queuePosition,
            usd(job.estimatedCost),
            usd(job.cost),
            ago(job.createdAt),
            reasonCell(job.reasons),
          ]),
        ),
      );
    });
  jobs
    .command('get')
    .description('one job in full')
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const job = await client().jobs.get(id);
      print(format, job, () =>
        [
          `${job.id} (${job.name})`,
          `  status       ${job.status}${job.queuePosition ? ` (position ${job.queuePosition} in the queue)` : ''}`,
          `  team, owner  ${job.team}, ${job.owner}`,
          `  product      ${job.product} (${job.kind}) on ${job.executor}`,
          `  gpus         ${job.gpus > 0 ? `${job.gpus} × ${job.gpuType}${job.gpuIndexes.length > 0 ? ` [${job.gpuIndexes.join(',')}]${job.gpuSource === 'declared' ? ' (declared, not detected)' : ''}` : ''}` : 'none'}`,
          `  spot         ${job.spot ? 'yes' : 'no'}`,
          `  datasets     ${job.datasets.join(', ') || '-'}`,
          `  max runtime  ${duration(job.maxRuntimeSeconds)}`,
          `  cost         ${costText(job)}`,
          `  created      ${at(job.createdAt)}`,
          job.startedAt ? `  started      ${at(job.startedAt)}` : null,
          job.endedAt
            ? `  ended        ${at(job.endedAt)}${job.exitCode !== null ? ` (exit ${job.exitCode})` : ''}`
            : null,
          job.reasons.length > 0 ? `reasons:\n${job.reasons.map(reasonText).join('\n')}` : null,
        ]
          .filter((line) => line !== null)
          .join('\n'),
      );
    });
  jobs
    .command('cancel')
    .description('cancel a job (yours; as a manager, your team’s)')
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const job = await client().jobs.cancel(id);
      print(format, job, () =>
        job.status === 'running'
          ? `Stopping job ${job.id}: SIGTERM sent; SIGKILL follows after the grace period. Watch: aicloud jobs get ${job.id}`
          : `Job ${job.id} is ${job.status}.`,
      );
    });
  jobs.addCommand(jobLogsCommand());
  jobs.addCommand(jobMetricsCommand());
  return jobs;
}
