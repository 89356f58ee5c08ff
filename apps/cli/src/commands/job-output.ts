import type { Client } from '@aicloud/client';
import type { Job, JobMetrics, JobStatus } from '@aicloud/contracts';
import { cliExitCodes, jobEndExitCodeOf } from '@aicloud/contracts/exit-codes';
import { waitingJobStatuses } from '@aicloud/contracts/status-values';
import { Command, Option } from 'commander';
import { waitsFor } from '../admission-text.ts';
import { client } from '../context.ts';
import { outputFormat, print, table } from '../output.ts';

/** Statuses in which a job has not started yet: its log is empty until it does. */
const WAITING: readonly JobStatus[] = waitingJobStatuses;

/** How often a waiting job is looked at again. */
const POLL_MS = 1000;

/** What a job that has not started waits for, in one line. */
function waitingLine(job: Job): string {
  switch (job.status) {
    case 'pending_approval':
      return `job ${job.id} waits for a manager’s approval (${job.approvalId ?? 'approval'}; a manager approves it with: aicloud approvals approve ${job.approvalId ?? '<id>'}); its log follows once it starts (Ctrl-C stops watching, not the job)`;
    case 'queued': {
      const reason = job.reasons[0];
      return `job ${job.id} waits for ${waitsFor(reason)}${job.queuePosition ? ` (position ${job.queuePosition} in the queue)` : ''}${reason ? `: ${reason.message}` : ''}; its log follows once it starts (Ctrl-C stops watching, not the job)`;
    }
    default:
      return `job ${job.id} is admitted and starting; its log follows once it runs`;
  }
}

/** The line printed when a followed job has ended. */
function endLine(job: Job): string {
  const why = job.reasons[0];
  return `job ${job.id} ${job.status}${job.exitCode !== null ? ` (exit ${job.exitCode})` : ''}${why && job.status !== 'succeeded' ? `: ${why.message}` : ''}`;
}

/**
 * Follows a job to its end: says what it waits for while it has not started, streams its log once it runs,
 * and answers the exit code of its outcome. Status lines go to stderr, the log to stdout.
 */
export async function followJob(api: Client, id: string): Promise<number> {
  let job = await api.jobs.get(id);
  let said = '';
  while (WAITING.includes(job.status)) {
    const line = waitingLine(job);
    if (line !== said) process.stderr.write(`${line}\n`);
    said = line;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await api.jobs.get(id);
  }
  if (job.status !== 'rejected') {
    for await (const chunk of api.jobs.logs(id, { follow: true })) process.stdout.write(chunk);
    job = await api.jobs.get(id);
  }
  process.stderr.write(`${endLine(job)}\n`);
  return jobEndExitCodeOf[job.status] ?? cliExitCodes.failed;
}

/** `aicloud jobs logs ID [-f]`. */
export function jobLogsCommand(): Command {
  return new Command('logs')
    .description(
      "a job's log (secrets masked); -f waits while the job waits for approval or quota, follows it until it ends, and exits with its outcome",
    )
    .argument('<id>')
    .option(
      '-f, --follow',
      'keep printing as the job writes, until it ends; exit 0 if it succeeded, 15 failed, 16 timed out, 17 cancelled, 18 lost, 10 refused',
      false,
    )
    .action(async (id: string, options: { follow: boolean }) => {
      const api = client();
      if (options.follow) {
        process.exitCode = await followJob(api, id);
        return;
      }
      for await (const chunk of api.jobs.logs(id)) process.stdout.write(chunk);
    });
}

/** The metric line a job writes on stdout, as help and docs show it. */
export const METRIC_LINE_HELP = `A job reports metrics with the SDK, or by printing one JSON object per line on stdout:
  {"event":"metric","step":100,"loss":1.23,"lr":0.0001}
"event" must be "metric"; "step" (optional) is a number; every other key is a metric name
(a letter or _, then letters, digits, _ . / -; at most 128 characters) with a finite number as value.
Lines on stderr are never metrics. A stdout line meant as one (it starts with { and has "event": "metric")
that does not parse, or has a value that is not a number, is counted and shown here with the first such line.`;

function malformedText(metrics: JobMetrics): string | null {
  const malformed = metrics.malformed;
  if (!malformed || malformed.count === 0) return null;
  return `${malformed.count} line${malformed.count === 1 ? '' : 's'} looked like metrics but did not parse; first: ${malformed.first.line}  (${malformed.first.error})`;
}

/** `aicloud jobs metrics ID`: the last value of each metric, or every point with -o json. */
export function jobMetricsCommand(): Command {
  return new Command('metrics')
    .description("a job's metrics (from the SDK or JSON lines on stdout)")
    .argument('<id>')
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .addHelpText('after', `\n${METRIC_LINE_HELP}`)
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const metrics = await client().jobs.metrics(id);
      print(format, metrics, () => {
        const names = Object.keys(metrics.series).sort();
        const malformed = malformedText(metrics);
        const body =
          names.length === 0
            ? `job ${id} has reported no metrics yet`
            : table(
                ['METRIC', 'POINTS', 'FIRST', 'LAST', 'MIN', 'MAX', 'LAST STEP'],
                names.map((name) => {
                  const points = metrics.series[name] ?? [];
                  const values = points.map((point) => point.value);
                  const last = points.at(-1);
                  return [
                    name,
                    points.length,
                    values[0],
                    last?.value,
                    Math.min(...values),
                    Math.max(...values),
                    last?.step,
                  ];
                }),
              );
        return malformed ? `${body}\n${malformed}` : body;
      });
    });
}
