import { admissionExitCodeOf } from '@aicloud/contracts/exit-codes';
import { Command, Option } from 'commander';
import { outcomeText } from '../admission-text.ts';
import { client } from '../context.ts';
import { ago, outputFormat, print, table } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

/** `aicloud approvals list|approve|deny`. */
export function approvalsCommand(): Command {
  const approvals = new Command('approvals').description(
    'requests that policies held for a manager’s approval',
  );
  approvals
    .command('list')
    .description('approval requests of your teams (pending first)')
    .addOption(
      new Option('--status <status>', 'only this status').choices([
        'pending',
        'approved',
        'denied',
        'expired',
      ]),
    )
    .addOption(outputOption())
    .action(async (options: { status?: 'pending' | 'approved' | 'denied' | 'expired'; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().approvals.list(options.status);
      print(format, items, () =>
        table(
          ['ID', 'JOB', 'TEAM', 'REQUESTED BY', 'APPROVERS', 'RULES', 'STATUS', 'EXPIRES'],
          items.map((item) => [
            item.id,
            item.jobId,
            item.team,
            item.requestedBy,
            item.approvers.join(','),
            item.rules.join(','),
            item.status,
            ago(item.expiresAt),
          ]),
        ),
      );
    });
  approvals
    .command('approve')
    .description('approve a held job; admission resumes at once')
    .argument('<id>')
    .option('--reason <text>', 'why')
    .addOption(outputOption())
    .action(async (id: string, options: { reason?: string; output: string }) => {
      const format = outputFormat(options.output);
      const api = client();
      const result = await api.approvals.approve(id, options.reason);
      const job = await api.jobs.get(result.approval.jobId);
      print(format, result, () => `Approved ${id}.\n${outcomeText(job, result.admission)}`);
      if (result.admission.outcome === 'rejected') process.exitCode = admissionExitCodeOf.rejected;
    });
  approvals
    .command('deny')
    .description('deny a held job')
    .argument('<id>')
    .option('--reason <text>', 'why')
    .addOption(outputOption())
    .action(async (id: string, options: { reason?: string; output: string }) => {
      const format = outputFormat(options.output);
      const approval = await client().approvals.deny(id, options.reason);
      print(format, approval, () => `Denied ${id}; job ${approval.jobId} is rejected.`);
    });
  return approvals;
}
