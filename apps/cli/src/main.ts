import { ApiError } from '@aicloud/client';
import { Command, CommanderError } from 'commander';
import cliPackage from '../package.json' with { type: 'json' };
import { UsageError } from './output.ts';

interface CommandModule {
  /** Imports the command's module and builds its command. */
  load: () => Promise<Command>;
  /** It reads the whole command tree (completion scripts), so every command is loaded with it. */
  everything?: true;
}

/**
 * Every top-level command, in `--help` order. A module is imported only when its command runs (or for the full
 * help), so `aicloud jobs list` loads neither Cedar's WASM (policy) nor the `openai` SDK (demo).
 */
const commands: Record<string, CommandModule> = {
  up: { load: async () => (await import('./commands/up.ts')).upCommand() },
  down: { load: async () => (await import('./commands/down.ts')).downCommand() },
  login: { load: async () => (await import('./commands/login.ts')).loginCommand() },
  whoami: { load: async () => (await import('./commands/whoami.ts')).whoamiCommand() },
  teams: { load: async () => (await import('./commands/teams.ts')).teamsCommand() },
  tokens: { load: async () => (await import('./commands/tokens.ts')).tokensCommand() },
  catalog: { load: async () => (await import('./commands/catalog.ts')).catalogCommand() },
  datasets: { load: async () => (await import('./commands/datasets.ts')).datasetsCommand() },
  create: { load: async () => (await import('./commands/create-job.ts')).createCommand() },
  jobs: { load: async () => (await import('./commands/jobs.ts')).jobsCommand() },
  notebooks: { load: async () => (await import('./commands/notebooks.ts')).notebooksCommand() },
  pipelines: { load: async () => (await import('./commands/pipelines.ts')).pipelinesCommand() },
  approvals: { load: async () => (await import('./commands/approvals.ts')).approvalsCommand() },
  budgets: { load: async () => (await import('./commands/budgets.ts')).budgetsCommand() },
  deploy: { load: async () => (await import('./commands/endpoints.ts')).deployCommand() },
  endpoints: { load: async () => (await import('./commands/endpoints.ts')).endpointsCommand() },
  keys: { load: async () => (await import('./commands/endpoints.ts')).keysCommand() },
  providers: { load: async () => (await import('./commands/providers.ts')).providersCommand() },
  bill: { load: async () => (await import('./commands/bill.ts')).billCommand() },
  policy: { load: async () => (await import('./commands/policy.ts')).policyCommand() },
  secrets: { load: async () => (await import('./commands/secrets.ts')).secretsCommand() },
  audit: { load: async () => (await import('./commands/audit.ts')).auditCommand() },
  alerts: { load: async () => (await import('./commands/alerts.ts')).alertsCommand() },
  demo: { load: async () => (await import('./commands/demo.ts')).demoCommand() },
  models: { load: async () => (await import('./commands/models.ts')).modelsCommand() },
  lineage: { load: async () => (await import('./commands/lineage.ts')).lineageCommand() },
  completion: {
    load: async () => (await import('./commands/completion.ts')).completionCommand(),
    everything: true,
  },
};

/**
 * Builds the `aicloud` command tree for one invocation: with the command `name` only that command's module is
 * loaded; with anything else (no command, `--help`, `help`, a mistake) every command, for help and suggestions.
 */
export async function buildProgram(name?: string): Promise<Command> {
  const program = new Command('aicloud')
    .description(
      'aicloud: the self-service AI developer platform (jobs, notebooks, models, endpoints, spend)',
    )
    .version(cliPackage.version)
    // Program options only before the subcommand, so `deploy model --version 5` is the model version.
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Getting started:
  aicloud up                                   start the platform on this machine
  aicloud login --url http://127.0.0.1:8787 --token TOKEN
  aicloud whoami

Environment: AICLOUD_URL and AICLOUD_TOKEN override the saved login.`,
    );
  const only = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (only && !only.everything) {
    program.addCommand(await only.load());
  } else {
    for (const command of await Promise.all(Object.values(commands).map((entry) => entry.load())))
      program.addCommand(command);
  }
  return program;
}

/** Runs the CLI and exits with the code of the outcome (see docs/cli.md for the table). */
export async function main(argv: string[]): Promise<void> {
  try {
    const program = await buildProgram(argv[2]);
    // Every command throws rather than exits on a usage mistake, so each one exits 2 (docs/cli.md).
    const overrideExit = (command: Command): void => {
      command.exitOverride();
      for (const sub of command.commands) overrideExit(sub);
    };
    overrideExit(program);
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = await report(error);
  }
}

async function report(error: unknown): Promise<number> {
  // The exit codes' table (plain values, no zod): loaded only when something went wrong.
  const { cliExitCodes, exitCodeOf } = await import('@aicloud/contracts/exit-codes');
  if (error instanceof CommanderError) {
    // Commander already printed help or the usage problem.
    return error.exitCode === 0 ? 0 : cliExitCodes.usage;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n`);
    return cliExitCodes.usage;
  }
  if (error instanceof ApiError) {
    process.stderr.write(`error: ${error.message}\n`);
    for (const issue of error.body?.issues ?? []) {
      const line = `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
      // Said once: a message that already holds the issue is not followed by it again.
      if (!error.message.includes(line)) process.stderr.write(`  - ${line}\n`);
    }
    if (error.body?.requestId) process.stderr.write(`  (request id ${error.body.requestId})\n`);
    return exitCodeOf[error.code];
  }
  const code = (error as { code?: string }).code;
  if (code && code in exitCodeOf) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return exitCodeOf[code as keyof typeof exitCodeOf];
  }
  process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
  return cliExitCodes.failed;
}
