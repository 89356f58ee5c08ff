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

/** A job's GPU figures, as `GET /v1/jobs/:id/gpu` answers them (sampled from nvidia-smi). */
interface JobGpuSeries {
  workloadId: string;
  gpus: {
    index: number;
    uuid: string;
    name: string;
    attributedBy: string;
    memoryTotalMiB: number;
    points: {
      time: string;
      utilizationPercent: number | null;
      memoryUsedMiB: number | null;
      powerW: number | null;
    }[];
  }[];
}

const numbers = (values: (number | null)[]) => values.filter((value): value is number => value !== null);
const average = (values: number[]) =>
  values.length === 0 ? null : Math.round(values.reduce((sum, value) => sum + value, 0) / values.length);

/** One row per GPU: utilisation (last, average, max), memory (last, max of total) and power. */
function gpuTable(series: JobGpuSeries): string {
  return table(
    [
      'GPU',
      'NAME',
      'BY',
      'SAMPLES',
      'UTIL LAST',
      'UTIL AVG',
      'UTIL MAX',
      'MEM LAST',
      'MEM MAX',
      'POWER',
      'LAST SAMPLE',
    ],
    series.gpus.map((gpu) => {
      const utilization = numbers(gpu.points.map((point) => point.utilizationPercent));
      const memory = numbers(gpu.points.map((point) => point.memoryUsedMiB));
      const last = gpu.points.at(-1);
      const percent = (value: number | null | undefined) =>
        value === null || value === undefined ? null : `${value} %`;
      return [
        gpu.index,
        gpu.name,
        gpu.attributedBy,
        gpu.points.length,
        percent(last?.utilizationPercent),
        percent(average(utilization)),
        percent(utilization.length > 0 ? Math.max(...utilization) : null),
        last?.memoryUsedMiB === null || last === undefined
          ? null
          : `${last.memoryUsedMiB}/${gpu.memoryTotalMiB} MiB`,
        memory.length > 0 ? `${Math.max(...memory)} MiB` : null,
        last?.powerW === null || last === undefined ? null : `${last.powerW} W`,
        ago(last?.time),
      ];
    }),
  );
}

const gpuSeries = (id: string) =>
  client().request<JobGpuSeries>('GET', `/v1/jobs/${encodeURIComponent(id)}/gpu`);

/** `jobs metrics` in a table ends with the job's GPU figures, when nvidia-smi sampled any. */
function withGpuSection(metrics: Command): Command {
  return metrics.hook('postAction', async (_command, action) => {
    if (outputFormat(action.opts<{ output: string }>().output) !== 'table') return;
    const series = await gpuSeries(action.args[0]!).catch(() => null);
    if (series && series.gpus.length > 0)
      process.stdout.write(
        `\nGPU (sampled from nvidia-smi; aicloud jobs gpu ${series.workloadId} -o json for every point)\n${gpuTable(series)}\n`,
      );
  });
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
  jobs.addCommand(withGpuSection(jobMetricsCommand()));
  jobs
    .command('gpu')
    .description(
      "a job's GPU utilisation, memory and power, per GPU (sampled from nvidia-smi every few seconds)",
    )
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const series = await gpuSeries(id);
      print(format, series, () =>
        series.gpus.length === 0
          ? `job ${id} has no GPU samples (GPU telemetry samples nvidia-smi on the machine where it runs)`
          : gpuTable(series),
      );
    });
  return jobs;
}
