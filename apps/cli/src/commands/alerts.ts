import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { httpFetch } from '../http-fetch.ts';
import { ago, CliError, duration, outputFormat, print, table } from '../output.ts';
import { readProfile } from '../profile.ts';

/** A rule as `GET /v1/alerts` lists it. */
interface AlertRuleInfo {
  name: string;
  kind: string;
  severity: string;
  summary: string | null;
  file: string;
  threshold: number;
  forSeconds: number;
  windowSeconds: number;
  webhook: boolean;
}

/** An alert pending or firing. */
interface ActiveAlert {
  rule: string;
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  since: string;
  firedAt: string | null;
  value: number;
}

interface TestResult {
  rule: string;
  values: { labels: Record<string, string>; value: number; active: boolean }[];
  delivery: string;
}

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

/** The threshold as people read it: idle time as a duration, latency in seconds, ratios in percent. */
function thresholdText(rule: AlertRuleInfo): string {
  switch (rule.kind) {
    case 'idle_gpu':
      return `idle ≥ ${duration(rule.threshold)}`;
    case 'latency_p99':
      return `p99 > ${rule.threshold} s`;
    case 'drift':
      return `PSI > ${rule.threshold}`;
    case 'quality':
      return `< ${rule.threshold}`;
    case 'error_rate':
    case 'budget_burn':
      return `> ${Math.round(rule.threshold * 1000) / 10} %`;
    default:
      return String(rule.threshold);
  }
}

const labelsText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');

/** `aicloud alerts list|test|export`. */
export function alertsCommand(): Command {
  const alerts = new Command('alerts').description(
    'alert rules as code (alerts/*.yaml) and the alerts firing now',
  );
  alerts
    .command('list')
    .description('the rules, and the alerts pending or firing (your teams’; all as platform-admin)')
    .addOption(outputOption())
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const result = await client().request<{ rules: AlertRuleInfo[]; active: ActiveAlert[] }>(
        'GET',
        '/v1/alerts',
      );
      print(format, result, () => {
        const rules = table(
          ['RULE', 'KIND', 'CONDITION', 'FOR', 'WINDOW', 'SEVERITY', 'WEBHOOK', 'FILE'],
          result.rules.map((rule) => [
            rule.name,
            rule.kind,
            thresholdText(rule),
            rule.forSeconds > 0 ? duration(rule.forSeconds) : null,
            rule.windowSeconds > 0 ? duration(rule.windowSeconds) : null,
            rule.severity,
            rule.webhook ? 'yes' : 'no',
            rule.file,
          ]),
        );
        const active =
          result.active.length === 0
            ? 'no alert is pending or firing'
            : table(
                ['RULE', 'STATE', 'SINCE', 'VALUE', 'LABELS'],
                result.active.map((alert) => [
                  alert.rule,
                  alert.state,
                  ago(alert.firedAt ?? alert.since),
                  Math.round(alert.value * 1000) / 1000,
                  labelsText(alert.labels),
                ]),
              );
        return result.rules.length === 0
          ? `no alert rules (add alerts/*.yaml)\n${active}`
          : `${rules}\n\n${active}`;
      });
    });
  alerts
    .command('test')
    .description('evaluate a rule now and send a test notification to its webhook (platform-admins)')
    .argument('<rule>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const result = await client().request<TestResult>(
        'POST',
        `/v1/alerts/${encodeURIComponent(name)}/test`,
      );
      print(format, result, () => {
        const values =
          result.values.length === 0
            ? `${result.rule}: no series to evaluate yet`
            : table(
                ['SERIES', 'VALUE', 'CONDITION'],
                result.values.map((value) => [
                  labelsText(value.labels) || '-',
                  Math.round(value.value * 1000) / 1000,
                  value.active ? 'holds' : 'does not hold',
                ]),
              );
        const delivery =
          result.delivery === 'none'
            ? 'no webhook is configured for this rule'
            : `test notification ${result.delivery}`;
        return `${values}\n${delivery}`;
      });
      if (result.delivery !== 'none' && result.delivery !== 'delivered') process.exitCode = 1;
    });
  alerts
    .command('export')
    .description(
      'print the rules as a Prometheus rule file (for rule_files; promtool check rules accepts it)',
    )
    .action(async () => {
      const profile = readProfile();
      const url = process.env.AICLOUD_URL || profile?.url;
      const token = process.env.AICLOUD_TOKEN || profile?.token;
      if (!url || !token)
        throw new CliError(
          'not signed in: run `aicloud login --url URL --token TOKEN` (or set AICLOUD_URL and AICLOUD_TOKEN)',
          'unauthenticated',
        );
      const response = await httpFetch(`${url.replace(/\/+$/, '')}/v1/alerts/prometheus-rules`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (!response.ok) {
        // The error body, through the client's usual path.
        await client().request('GET', '/v1/alerts/prometheus-rules');
      }
      process.stdout.write(await response.text());
    });
  return alerts;
}
