import { ApiError } from '@aicloud/client';
import { exitCodeOf } from '@aicloud/contracts';
import { Command, CommanderError } from 'commander';
import { approvalsCommand } from './commands/approvals.ts';
import { auditCommand } from './commands/audit.ts';
import { billCommand } from './commands/bill.ts';
import { budgetsCommand } from './commands/budgets.ts';
import { catalogCommand } from './commands/catalog.ts';
import { completionCommand } from './commands/completion.ts';
import { createCommand } from './commands/create-job.ts';
import { datasetsCommand } from './commands/datasets.ts';
import { demoCommand } from './commands/demo.ts';
import { downCommand } from './commands/down.ts';
import { deployCommand, endpointsCommand, keysCommand } from './commands/endpoints.ts';
import { jobsCommand } from './commands/jobs.ts';
import { loginCommand } from './commands/login.ts';
import { lineageCommand, modelsCommand } from './commands/models.ts';
import { notebooksCommand } from './commands/notebooks.ts';
import { policyCommand } from './commands/policy.ts';
import { secretsCommand } from './commands/secrets.ts';
import { teamsCommand } from './commands/teams.ts';
import { tokensCommand } from './commands/tokens.ts';
import { upCommand } from './commands/up.ts';
import { whoamiCommand } from './commands/whoami.ts';
import { UsageError } from './output.ts';

/** Builds the `aicloud` command tree. */
export function buildProgram(): Command {
  const program = new Command('aicloud')
    .description(
      'aicloud: the self-service AI developer platform (jobs, notebooks, models, endpoints, spend)',
    )
    .version('0.1.0')
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
  program.addCommand(upCommand());
  program.addCommand(downCommand());
  program.addCommand(loginCommand());
  program.addCommand(whoamiCommand());
  program.addCommand(teamsCommand());
  program.addCommand(tokensCommand());
  program.addCommand(catalogCommand());
  program.addCommand(datasetsCommand());
  program.addCommand(createCommand());
  program.addCommand(jobsCommand());
  program.addCommand(notebooksCommand());
  program.addCommand(approvalsCommand());
  program.addCommand(budgetsCommand());
  program.addCommand(deployCommand());
  program.addCommand(endpointsCommand());
  program.addCommand(keysCommand());
  program.addCommand(billCommand());
  program.addCommand(policyCommand());
  program.addCommand(secretsCommand());
  program.addCommand(auditCommand());
  program.addCommand(demoCommand());
  program.addCommand(modelsCommand());
  program.addCommand(lineageCommand());
  program.addCommand(completionCommand());
  return program;
}

/** Runs the CLI and exits with the code of the outcome (see docs/cli.md for the table). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  // Every command throws rather than exits on a usage mistake, so each one exits 2 (docs/cli.md).
  const overrideExit = (command: Command): void => {
    command.exitOverride();
    for (const sub of command.commands) overrideExit(sub);
  };
  overrideExit(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander already printed help or the usage problem.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
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
  return 1;
}
