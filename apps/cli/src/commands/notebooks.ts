import type { Notebook } from '@aicloud/contracts';
import { notebookStatuses } from '@aicloud/contracts/status-values';
import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { ago, duration, outputFormat, print, table, UsageError } from '../output.ts';
import { readProfile } from '../profile.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

/** `2026-05-01T10:20:30.000Z` → `10:20:30` today, else the date and time without seconds' fraction. */
function when(iso: string | null): string | null {
  if (!iso) return null;
  const text = iso.replace(/\.\d+Z$/, 'Z');
  return iso.slice(0, 10) === new Date().toISOString().slice(0, 10) ? `${text.slice(11, 19)}Z` : text;
}

function gpusOf(notebook: Notebook): string {
  return notebook.gpus > 0 ? `${notebook.gpus}×${notebook.gpuType}` : '0';
}

/** What is next for a notebook: its warning, its idle stop, or why it stopped. */
function nextOf(notebook: Notebook): string {
  if (notebook.warning) return `WARNING: ${notebook.warning.message}`;
  if (notebook.status === 'running' || notebook.status === 'starting') {
    return `idle stop ${when(notebook.idleDeadline)}`;
  }
  return notebook.stopReason
    ? `${notebook.stopReason}${notebook.stopMessage ? `: ${notebook.stopMessage}` : ''}`
    : '';
}

function details(notebook: Notebook): string {
  return [
    `${notebook.id} (${notebook.name})`,
    `  status        ${notebook.status}${notebook.stopReason ? ` (${notebook.stopReason})` : ''}`,
    `  team, owner   ${notebook.team}, ${notebook.owner}`,
    `  product       ${notebook.product}, egress ${notebook.egress}`,
    `  gpus          ${notebook.gpus > 0 ? `${gpusOf(notebook)} [${notebook.gpuIndexes.join(',')}]` : 'none'}`,
    `  started       ${notebook.startedAt ?? '-'}`,
    `  last activity ${notebook.lastActivityAt ?? '-'}`,
    `  idle stop     ${notebook.idleDeadline ?? '-'} (after ${duration(notebook.idleTimeoutSeconds)} idle)`,
    `  max lifetime  ${notebook.maxLifetimeAt ?? '-'} (${duration(notebook.maxLifetimeSeconds)})`,
    notebook.snoozedUntil ? `  snoozed until ${notebook.snoozedUntil}` : null,
    `  cost          $${notebook.cost.toFixed(2)} ($${notebook.pricePerHour.toFixed(2)}/h, at most $${notebook.estimatedCost.toFixed(2)})`,
    notebook.stoppedAt
      ? `  stopped       ${notebook.stoppedAt}${notebook.stopMessage ? `: ${notebook.stopMessage}` : ''}`
      : null,
    notebook.warning ? `WARNING: ${notebook.warning.message}` : null,
  ]
    .filter((line) => line !== null)
    .join('\n');
}

/** The server address this CLI talks to, for login links. */
function serverBase(): string | null {
  const url = process.env.AICLOUD_URL || readProfile()?.url;
  return url ? url.replace(/\/+$/, '') : null;
}

/** `aicloud notebooks create|list|get|open|snooze|stop`. */
export function notebooksCommand(): Command {
  const notebooks = new Command('notebooks').description(
    'cost-capped Jupyter notebooks: idle stop, max lifetime, no internet egress, reached through the platform',
  );
  notebooks
    .command('create')
    .description('start a notebook; it stops after its idle timeout and at its max lifetime (files are kept)')
    .option('--type <product>', 'a notebook product of the catalog', 'notebook-gpu')
    .option('--gpus <n>', 'GPUs (default: one where the product offers GPUs)')
    .option('--gpu-type <type>', 'GPU type (default: the product’s first)')
    .option('--name <name>', 'a name for the notebook')
    .option('--team <team>', 'the team (default: your only team)')
    .option(
      '--idle-timeout <duration>',
      'stop after this long without activity, e.g. 30m (at most the product’s)',
    )
    .addOption(outputOption())
    .action(
      async (options: {
        type: string;
        gpus?: string;
        gpuType?: string;
        name?: string;
        team?: string;
        idleTimeout?: string;
        output: string;
      }) => {
        const format = outputFormat(options.output);
        let gpus: number | undefined;
        if (options.gpus !== undefined) {
          gpus = Number(options.gpus);
          if (!Number.isInteger(gpus) || gpus < 0)
            throw new UsageError(`--gpus must be a whole number, got '${options.gpus}'`);
        }
        const api = client();
        const notebook = await api.notebooks.create({
          product: options.type,
          ...(gpus === undefined ? {} : { gpus }),
          ...(options.gpuType ? { gpuType: options.gpuType } : {}),
          ...(options.name ? { name: options.name } : {}),
          ...(options.team ? { team: options.team } : {}),
          ...(options.idleTimeout ? { idleTimeout: options.idleTimeout } : {}),
        });
        print(format, notebook, () =>
          [
            `Notebook ${notebook.id} is ${notebook.status} (${notebook.product}, ${gpusOf(notebook)} GPU, egress ${notebook.egress}, $${notebook.pricePerHour.toFixed(2)}/h).`,
            `It stops after ${duration(notebook.idleTimeoutSeconds)} without activity (now: ${notebook.idleDeadline ?? '-'}) and at ${notebook.maxLifetimeAt ?? '-'} at the latest; files are kept.`,
            '',
            'Useful commands:',
            `  aicloud notebooks open ${notebook.id}     # a one-time login URL for your browser`,
            `  aicloud notebooks snooze ${notebook.id}   # push the idle stop further`,
            `  aicloud notebooks stop ${notebook.id}`,
          ].join('\n'),
        );
      },
    );
  notebooks
    .command('list')
    .description('notebooks of your teams with status, idle deadline, warnings and cost')
    .option('--team <team>', 'only this team')
    .addOption(new Option('--status <status>', 'only this status').choices(notebookStatuses))
    .addOption(outputOption())
    .action(async (options: { team?: string; status?: string; output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().notebooks.list({
        team: options.team,
        status: options.status as Notebook['status'] | undefined,
      });
      print(format, items, () =>
        table(
          ['ID', 'NAME', 'TEAM', 'OWNER', 'GPUS', 'STATUS', 'LAST ACTIVITY', 'COST', 'NEXT'],
          items.map((notebook) => [
            notebook.id,
            notebook.name,
            notebook.team,
            notebook.owner,
            gpusOf(notebook),
            notebook.status,
            ago(notebook.lastActivityAt),
            `$${notebook.cost.toFixed(2)}`,
            nextOf(notebook),
          ]),
        ),
      );
    });
  notebooks
    .command('get')
    .description('one notebook in full')
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const notebook = await client().notebooks.get(id);
      print(format, notebook, () => details(notebook));
    });
  notebooks
    .command('open')
    .description('print a one-time login URL (valid 60 s) that opens the notebook in your browser')
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const link = await client().notebooks.loginUrl(id);
      const base = serverBase();
      const url = base ? `${base}${link.path}` : link.url;
      print(format, { ...link, url }, () => `${url}\n(one-time link, valid until ${link.expiresAt})`);
    });
  notebooks
    .command('snooze')
    .description('push the idle stop one idle timeout further (never past the max lifetime)')
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const notebook = await client().notebooks.snooze(id);
      print(
        format,
        notebook,
        () =>
          `Notebook ${notebook.id} now stops when idle at ${notebook.idleDeadline} (max lifetime ends ${notebook.maxLifetimeAt}).`,
      );
    });
  notebooks
    .command('stop')
    .description('stop a notebook (yours; as a manager, your team’s); its files are kept')
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const notebook = await client().notebooks.stop(id);
      print(format, notebook, () =>
        notebook.status === 'stopped'
          ? `Notebook ${notebook.id} stopped; its files are kept. Cost: $${notebook.cost.toFixed(2)}.`
          : `Notebook ${notebook.id} is ${notebook.status}. Watch: aicloud notebooks get ${notebook.id}`,
      );
    });
  return notebooks;
}
