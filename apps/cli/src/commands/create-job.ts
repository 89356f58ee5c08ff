import { ApiError } from '@aicloud/client';
import { type Admission, Duration, type Job, type SubmitJobRequest } from '@aicloud/contracts';
import { admissionExitCodeOf, cliExitCodes, exitCodeOf } from '@aicloud/contracts/exit-codes';
import { Command, InvalidArgumentError, Option } from 'commander';
import { admissionSummary, outcomeText, reasonText } from '../admission-text.ts';
import { client } from '../context.ts';
import { outputFormat, UsageError } from '../output.ts';
import { confirm } from '../prompt.ts';
import { followJob } from './job-output.ts';

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be a whole number');
  return parsed;
}

/** `--max-runtime`: checked here, so a bad value is named once, with its flag, before anything is sent. */
function duration(value: string): string {
  const parsed = Duration.safeParse(value);
  if (!parsed.success)
    throw new InvalidArgumentError(
      parsed.error.issues[0]?.message ?? 'must be a duration such as 90s, 30m, 8h or 30d',
    );
  return value;
}

const collect = (value: string, previous: string[]) => [...previous, value];

interface CreateJobOptions {
  type: string;
  gpus: number;
  gpuType?: string;
  dataset: string[];
  command?: string;
  maxRuntime?: string;
  spot: boolean;
  name?: string;
  team?: string;
  secret: string[];
  executor?: 'local' | 'slurm';
  experiment?: string;
  yes: boolean;
  dryRun: boolean;
  follow: boolean;
  output: string;
}

/** `aicloud create job`: estimate and guardrails first, `Proceed? [y/N]`, then admission. */
export function createCommand(): Command {
  const create = new Command('create').description('create workloads from the catalog');
  create
    .command('job')
    .description(
      'submit a job: shows the cost estimate and guardrails, asks to proceed, then policy, quota and budget decide',
    )
    .requiredOption('--type <product>', 'catalog product, e.g. fine-tune (aicloud catalog list)')
    .option('--gpus <n>', 'number of GPUs', integer, 0)
    .option('--gpu-type <type>', 'GPU type, e.g. A100 or H100 (default: the product’s first)')
    .option(
      '--dataset <path>',
      'a dataset to read, e.g. projects/legal-rag/datasets/v2 (repeatable)',
      collect,
      [],
    )
    .option('--command <cmd>', 'what to run (sh -c)')
    .option('--max-runtime <duration>', 'e.g. 90s, 30m, 8h (default and maximum: the product’s)', duration)
    .option('--spot', 'run on spot capacity (cheaper, may be preempted)', false)
    .option('--name <name>', 'a name for the job')
    .option('--team <team>', 'the team to charge (needed if you are in several)')
    .option('--secret <NAME>', 'a team secret to inject as an environment variable (repeatable)', collect, [])
    .addOption(new Option('--executor <executor>', 'where it runs').choices(['local', 'slurm']))
    .option(
      '--experiment <name>',
      'the MLflow experiment its run lands in, created in the team if missing (default: the team’s name)',
    )
    .option('-y, --yes', 'do not ask before submitting (needed without a terminal)', false)
    .option('--dry-run', 'only show what would happen', false)
    .option(
      '-f, --follow',
      'after admission, wait while the job waits (approval, quota) and follow its log; exit with its outcome',
      false,
    )
    .addOption(new Option('-o, --output <format>', 'table or json').default('table'))
    .action(async (options: CreateJobOptions) => {
      const format = outputFormat(options.output);
      if (options.follow && format === 'json')
        throw new UsageError('--follow prints the job’s log, so it does not combine with -o json');
      if (options.follow && options.dryRun)
        throw new UsageError('--dry-run submits nothing, so there is nothing to --follow');
      const api = client();
      const request: SubmitJobRequest = {
        product: options.type,
        gpus: options.gpus,
        ...(options.gpuType ? { gpuType: options.gpuType } : {}),
        datasets: options.dataset,
        ...(options.command ? { command: options.command } : {}),
        ...(options.maxRuntime ? { maxRuntime: options.maxRuntime } : {}),
        spot: options.spot,
        ...(options.name ? { name: options.name } : {}),
        ...(options.team ? { team: options.team } : {}),
        secrets: options.secret,
        ...(options.executor ? { executor: options.executor } : {}),
        ...(options.experiment !== undefined ? { experiment: options.experiment } : {}),
      };
      const showSummary = (admission: Admission) => {
        const summary = {
          product: options.type,
          gpus: options.gpus,
          gpuType: options.gpuType ?? admission.guardrails.quota?.gpuType,
          team: options.team,
        };
        if (format === 'table') process.stderr.write(`${admissionSummary(summary, admission)}\n`);
      };
      // With --yes the submit is the one request sent: the summary comes from its admission instead.
      const preview =
        options.yes && !options.dryRun ? null : await api.jobs.submit({ ...request, dryRun: true });
      if (preview) showSummary(preview.admission);
      if (options.dryRun) {
        if (format === 'json') process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
        return;
      }
      // A refusal needs no confirmation: submitting records it (a rejected job, audited) and prints why.
      if (preview && !options.yes && preview.admission.outcome !== 'rejected') {
        if (!process.stdin.isTTY)
          throw new UsageError(
            'not submitted: there is no terminal to ask "Proceed?" on; pass --yes to submit without a prompt (or --dry-run to see only the estimate)',
          );
        if (!(await confirm('Proceed? [y/N] '))) {
          process.stderr.write('Not submitted.\n');
          process.exitCode = cliExitCodes.declined;
          return;
        }
      }
      try {
        const result = await api.jobs.submit(request);
        if (!preview) showSummary(result.admission);
        finish(format, result.job, result.admission);
        if (options.follow && result.job) process.exitCode = await followJob(api, result.job.id);
      } catch (error) {
        const admission = (error as ApiError).body?.details?.admission as Admission | undefined;
        const job = (error as ApiError).body?.details?.job as Job | undefined;
        if (error instanceof ApiError && admission) {
          if (!preview) showSummary(admission);
          finish(format, job ?? null, admission);
          if (error.code === 'budget_exceeded') process.exitCode = exitCodeOf.budget_exceeded;
          return;
        }
        throw error;
      }
    });
  return create;
}

function finish(format: 'table' | 'json', job: Job | null, admission: Admission): void {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ job, admission }, null, 2)}\n`);
  } else if (job) {
    process.stdout.write(`${outcomeText(job, admission)}\n`);
  } else {
    process.stdout.write(`Rejected before submitting:\n${admission.reasons.map(reasonText).join('\n')}\n`);
  }
  const budgetOnly =
    admission.outcome === 'rejected' &&
    admission.reasons.length > 0 &&
    admission.reasons.every((reason) => reason.rule?.startsWith('budget-'));
  // Where the job went, for scripts: 0 admitted, 10 denied, 11 held, 12 queued, 13 over budget.
  process.exitCode = budgetOnly ? exitCodeOf.budget_exceeded : admissionExitCodeOf[admission.outcome];
}
