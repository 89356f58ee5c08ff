import { resolve } from 'node:path';
import { cliExitCodes } from '@aicloud/contracts/exit-codes';
import { Command, Option } from 'commander';
import { reasonText } from '../admission-text.ts';
import { client } from '../context.ts';
import { ago, outputFormat, print, table } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');
const dirOption = () =>
  new Option('--dir <dir>', 'policy folder (schema.cedarschema, *.cedar, tests/*.yaml)').default('policies');

/** `aicloud policy list|validate|test|explain|exceptions`. */
export function policyCommand(): Command {
  const policy = new Command('policy').description(
    'guardrails as code (Cedar): what is active, check and test policy folders, explain decisions',
  );
  policy
    .command('list')
    .description('the active policy set on the server, with its digest')
    .addOption(outputOption())
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const result = await client().policy.list();
      print(format, result, () =>
        [
          `policy set ${result.digest}`,
          table(
            ['ID', 'EFFECT', 'OUTCOME', 'ENFORCEMENT', 'FILE', 'REASON'],
            result.items.map((item) => [
              item.id,
              item.effect,
              item.outcome,
              item.enforcement,
              item.file,
              item.reason,
            ]),
          ),
        ].join('\n'),
      );
    });
  policy
    .command('validate')
    .description('parse and validate a policy folder against its Cedar schema (no server needed)')
    .addOption(dirOption())
    .action(async (options: { dir: string }) => {
      const { createCedarAuthorizer } = await import('@aicloud/policy');
      const authorizer = createCedarAuthorizer({ policiesDir: resolve(options.dir) });
      process.stdout.write(`valid: ${authorizer.policies().length} policies, digest ${authorizer.digest}\n`);
    });
  policy
    .command('test')
    .description('run the decision tables beside the policies (tests/*.yaml), like `opa test`')
    .addOption(dirOption())
    .addOption(outputOption())
    .action(async (options: { dir: string; output: string }) => {
      const format = outputFormat(options.output);
      const { runPolicyTests } = await import('@aicloud/policy');
      const report = runPolicyTests({ policiesDir: resolve(options.dir) });
      print(format, report, () =>
        [
          ...report.results.map(
            (result) =>
              `${result.passed ? 'PASS' : 'FAIL'}  ${result.file}: ${result.name}${result.passed ? '' : `\n      ${result.problems.join('\n      ')}`}`,
          ),
          '',
          `${report.passed} passed, ${report.failed} failed`,
        ].join('\n'),
      );
      if (report.failed > 0) process.exitCode = cliExitCodes.failed;
    });
  policy
    .command('explain')
    .description(
      "why a job was admitted, held, queued or rejected: the policy set's digest and the determining policies",
    )
    .argument('<job-id>')
    .addOption(outputOption())
    .action(async (id: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const decision = await client().jobs.decision(id);
      print(format, decision, () =>
        [
          `job ${decision.jobId}: ${decision.status}${decision.approvedBy ? ` (approved by ${decision.approvedBy})` : ''}`,
          `policy set ${decision.policySetDigest}`,
          ...decision.determining.map(
            (hit) => `  determining ${hit.policyId} (${hit.outcome}): ${hit.reason}`,
          ),
          ...decision.warnings.map((hit) => `  warning ${hit.policyId}: ${hit.reason}`),
          ...decision.dryRun.map((hit) => `  dry run: ${hit.policyId} would have denied: ${hit.reason}`),
          ...decision.errors.map((error) => `  engine error: ${error}`),
          ...(decision.reasons.length > 0 ? ['reasons:', ...decision.reasons.map(reasonText)] : []),
        ].join('\n'),
      );
    });
  const exceptions = policy.command('exceptions').description('time-boxed policy exceptions');
  exceptions
    .command('list')
    .description('exceptions in force or expired')
    .addOption(outputOption())
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().policy.exceptions();
      print(format, items, () =>
        table(
          ['ID', 'POLICY', 'TEAM', 'EXPIRES', 'GRANTED BY', 'DESCRIPTION'],
          items.map((item) => [
            item.id,
            item.policyId,
            item.team,
            ago(item.expiresAt),
            item.grantedBy,
            item.description,
          ]),
        ),
      );
    });
  exceptions
    .command('grant')
    .description('grant a team a time-boxed exception to one policy (platform-admins)')
    .requiredOption('--policy <id>', 'the policy id, e.g. gpu-max-per-product')
    .requiredOption('--team <team>', 'the team it applies to')
    .requiredOption('--description <text>', 'why')
    .requiredOption('--expires-at <time>', 'ISO 8601 time, e.g. 2026-12-01T00:00:00Z')
    .addOption(outputOption())
    .action(
      async (options: {
        policy: string;
        team: string;
        description: string;
        expiresAt: string;
        output: string;
      }) => {
        const format = outputFormat(options.output);
        const granted = await client().policy.grantException({
          policyId: options.policy,
          team: options.team,
          description: options.description,
          expiresAt: options.expiresAt,
        });
        print(
          format,
          granted,
          () =>
            `Granted ${granted.id}: ${granted.team} is exempt from ${granted.policyId} until ${granted.expiresAt}.`,
        );
      },
    );
  return policy;
}
