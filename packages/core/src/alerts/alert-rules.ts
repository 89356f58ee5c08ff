import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AppError } from '../app-error.ts';
import { webhookUrlRefusal } from '../billing/webhook-guard.ts';
import { parseDuration } from '../duration.ts';
import { DRIFT_FEATURES } from '../telemetry/drift.ts';

const Duration = z.string().refine((text) => /^\d+(s|m|h|d)$/.test(text.trim()), {
  message: 'expected a duration such as 30s, 5m, 1h or 1d',
});
const Name = z
  .string()
  .regex(
    /^[a-z][a-z0-9_]{0,63}$/,
    'a rule name is snake_case: a lower-case letter, then letters, digits or _',
  );
const Webhook = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

const common = {
  name: Name,
  /** How long the condition holds before the alert fires (default 0: at once). */
  for: Duration.optional(),
  severity: z.enum(['info', 'warning', 'critical']).default('warning'),
  summary: z.string().min(1).max(500).optional(),
  /** Where firing and resolved events are POSTed; the file's `webhook` when absent. */
  webhook: Webhook.optional(),
};
const windowed = {
  /** The window rates and quantiles are taken over (default 5m). */
  window: Duration.default('5m'),
  /** Fewer requests than this in the window say nothing (default 10). */
  minRequests: z.number().int().min(1).max(1_000_000).default(10),
};

/** One alert rule as written in `alerts/*.yaml`. */
export const AlertRuleSpec = z.discriminatedUnion('kind', [
  z.strictObject({ ...common, ...windowed, kind: z.literal('error_rate'), above: z.number().gt(0).lt(1) }),
  z.strictObject({ ...common, ...windowed, kind: z.literal('latency_p99'), above: z.number().positive() }),
  z.strictObject({ ...common, kind: z.literal('budget_burn'), above: z.number().positive().max(10) }),
  z.strictObject({ ...common, kind: z.literal('idle_gpu'), idleFor: Duration }),
  /** An endpoint's drift PSI above a number, on one feature or any. */
  z.strictObject({
    ...common,
    kind: z.literal('drift'),
    above: z.number().positive(),
    feature: z.enum(DRIFT_FEATURES).optional(),
  }),
  /** An endpoint's quality score (0–1) below a number, on one metric or any. */
  z.strictObject({
    ...common,
    kind: z.literal('quality'),
    below: z.number().gt(0).max(1),
    metric: z.enum(['exact_match', 'f1', 'judge']).optional(),
  }),
  z
    .strictObject({
      ...common,
      kind: z.literal('metric'),
      metric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'expected a Prometheus metric name'),
      labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string()).optional(),
      above: z.number().optional(),
      below: z.number().optional(),
    })
    .refine((rule) => (rule.above === undefined) !== (rule.below === undefined), {
      message: 'a metric rule has exactly one of above or below',
      path: ['above'],
    }),
]);
export type AlertRuleSpec = z.infer<typeof AlertRuleSpec>;

/** One file of alert rules. */
export const AlertRuleFile = z.strictObject({
  /** The default webhook of this file's rules. */
  webhook: Webhook.optional(),
  rules: z.array(AlertRuleSpec).min(1),
});

/** A loaded rule: its spec with durations in seconds, the webhook it uses and the file it came from. */
export type AlertRule = AlertRuleSpec & {
  file: string;
  forSeconds: number;
  windowSeconds: number;
  webhookUrl: string | null;
};

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) =>
      typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key),
    '',
  );
}

/** Parses one file's text; throws AppError naming the file and the field. */
export function parseAlertRules(
  text: string,
  file: string,
  allowedHosts: readonly string[] = [],
): AlertRule[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new AppError('invalid_input', `${file}: not YAML: ${(error as Error).message}`);
  }
  const parsed = AlertRuleFile.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldPath(issue.path);
    throw new AppError('invalid_input', `${file}: ${field || '(top level)'}: ${issue.message}`, {
      issues: parsed.error.issues.map((each) => ({
        path: [file, ...each.path.map(String)],
        message: each.message,
      })),
    });
  }
  return parsed.data.rules.map((rule, index) => {
    const webhookUrl = rule.webhook ?? parsed.data.webhook ?? null;
    const refusal = webhookUrl ? webhookUrlRefusal(webhookUrl, { allowedHosts }) : null;
    if (refusal) {
      const field = rule.webhook ? `rules[${index}].webhook` : 'webhook';
      throw new AppError('invalid_input', `${file}: ${field}: ${refusal}`);
    }
    return {
      ...rule,
      file,
      forSeconds: rule.for ? parseDuration(rule.for) : 0,
      windowSeconds: 'window' in rule ? parseDuration(rule.window) : 0,
      webhookUrl,
    };
  });
}

/**
 * Loads every `*.yaml`/`*.yml` file of a folder (none when it does not exist), checking each rule and that
 * names are unique; the first problem stops with a message naming the file and the field.
 */
export function loadAlertRules(dir: string, allowedHosts: readonly string[] = []): AlertRule[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const rules: AlertRule[] = [];
  const seen = new Map<string, string>();
  for (const name of files) {
    const file = join(basename(dir), name);
    for (const [index, rule] of parseAlertRules(
      readFileSync(join(dir, name), 'utf8'),
      file,
      allowedHosts,
    ).entries()) {
      const other = seen.get(rule.name);
      if (other)
        throw new AppError(
          'invalid_input',
          `${file}: rules[${index}].name: '${rule.name}' is already a rule in ${other}`,
        );
      seen.set(rule.name, file);
      rules.push(rule);
    }
  }
  return rules;
}
