import { basename } from 'node:path';
import { stringify } from 'yaml';
import { formatDuration, parseDuration } from '../duration.ts';
import type { AlertRule } from './alert-rules.ts';

/** The request histogram the gateway exports (OpenTelemetry GenAI name), and the label naming the endpoint. */
export const REQUEST_HISTOGRAM = 'gen_ai_server_request_duration';
export const ENDPOINT_LABEL = 'gen_ai_request_model';

/**
 * The `error.type` values that are the platform's failures; every other value is the client's (a refused key,
 * quota, rate limit, unknown model, invalid request, the model server's own 4xx) and no endpoint error.
 */
export const PLATFORM_ERROR_TYPES: readonly string[] = [
  'upstream_error',
  'timeout',
  'replica_unavailable',
  '_OTHER',
];

const quote = (value: string) => JSON.stringify(value);

/** The PromQL of a rule: the same condition the in-process evaluator checks. */
export function ruleExpr(rule: AlertRule): string {
  switch (rule.kind) {
    case 'error_rate': {
      const window = formatDuration(rule.windowSeconds);
      const count = `${REQUEST_HISTOGRAM}_count`;
      const by = `sum by (${ENDPOINT_LABEL})`;
      return `(${by} (increase(${count}{error_type=~"${PLATFORM_ERROR_TYPES.join('|')}"}[${window}])) / ${by} (increase(${count}[${window}]))) > ${rule.above} and ${by} (increase(${count}[${window}])) >= ${rule.minRequests}`;
    }
    case 'latency_p99': {
      const window = formatDuration(rule.windowSeconds);
      return `histogram_quantile(0.99, sum by (${ENDPOINT_LABEL}, le) (increase(${REQUEST_HISTOGRAM}_bucket[${window}]))) > ${rule.above} and sum by (${ENDPOINT_LABEL}) (increase(${REQUEST_HISTOGRAM}_count[${window}])) >= ${rule.minRequests}`;
    }
    case 'budget_burn':
      return `aicloud_budget_used_ratio > ${rule.above}`;
    case 'idle_gpu':
      return `aicloud_gpu_idle_seconds{workload_id!=""} >= ${idleSeconds(rule)}`;
    case 'drift':
      return `aicloud_endpoint_drift_psi${rule.feature ? `{feature=${quote(rule.feature)}}` : ''} > ${rule.above}`;
    case 'quality':
      return `aicloud_endpoint_quality_score${rule.metric ? `{metric=${quote(rule.metric)}}` : ''} < ${rule.below}`;
    case 'metric': {
      const matchers = Object.entries(rule.labels ?? {})
        .map(([name, value]) => `${name}=${quote(value)}`)
        .join(',');
      const selector = `${rule.metric}${matchers ? `{${matchers}}` : ''}`;
      return rule.above !== undefined ? `${selector} > ${rule.above}` : `${selector} < ${rule.below}`;
    }
  }
}

/** Seconds of idleness an `idle_gpu` rule fires at. */
export function idleSeconds(rule: Extract<AlertRule, { kind: 'idle_gpu' }>): number {
  return parseDuration(rule.idleFor);
}

/** The rules as a Prometheus rule file (`promtool check rules` accepts it): one group per source file. */
export function prometheusRuleFile(rules: readonly AlertRule[]): string {
  const groups = new Map<string, AlertRule[]>();
  for (const rule of rules) {
    const group = basename(rule.file).replace(/\.ya?ml$/, '');
    groups.set(group, [...(groups.get(group) ?? []), rule]);
  }
  return stringify(
    {
      groups: [...groups].map(([name, members]) => ({
        name: `aicloud-${name}`,
        rules: members.map((rule) => ({
          alert: rule.name,
          expr: ruleExpr(rule),
          ...(rule.forSeconds > 0 ? { for: formatDuration(rule.forSeconds) } : {}),
          labels: { severity: rule.severity, kind: rule.kind },
          annotations: {
            summary: rule.summary ?? `${rule.name} (${rule.kind})`,
            source: rule.file,
          },
        })),
      })),
    },
    { lineWidth: 0 },
  );
}
