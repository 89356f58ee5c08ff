import { AppError, canSeeTeam, observabilityOf, prometheusRuleFile, ruleThreshold } from '@aicloud/core';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

const Labels = z.record(z.string(), z.string());

/** A rule as `aicloud alerts list` shows it (the webhook URL stays on the server). */
const AlertRuleInfo = z.object({
  name: z.string(),
  kind: z.string(),
  severity: z.string(),
  summary: z.string().nullable(),
  file: z.string(),
  threshold: z.number(),
  forSeconds: z.number(),
  windowSeconds: z.number(),
  webhook: z.boolean(),
});
const ActiveAlertInfo = z.object({
  rule: z.string(),
  labels: Labels,
  state: z.enum(['pending', 'firing']),
  since: z.string(),
  firedAt: z.string().nullable(),
  value: z.number(),
});

/** Alert rules (as code, in `alerts/*.yaml`), their active alerts, a test notification and the Prometheus export. */
export function alertRoutes(platform: RouteDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/alerts',
      summary:
        'The alert rules and the alerts pending or firing now (those of your teams; all for platform-admins)',
      tag: 'alerts',
      response: z.object({ rules: z.array(AlertRuleInfo), active: z.array(ActiveAlertInfo) }),
      handler: async ({ actor }) => {
        const { alerts } = observabilityOf(platform);
        const { principal } = actor;
        return {
          rules: alerts.rules.map((rule) => ({
            name: rule.name,
            kind: rule.kind,
            severity: rule.severity,
            summary: rule.summary ?? null,
            file: rule.file,
            threshold: ruleThreshold(rule),
            forSeconds: rule.forSeconds,
            windowSeconds: rule.windowSeconds,
            webhook: rule.webhookUrl !== null,
          })),
          // A team's alerts are its data; alerts with no team (a metric rule's) are for platform-admins.
          active: alerts
            .active()
            .filter((alert) =>
              alert.labels.team ? canSeeTeam(principal, alert.labels.team) : principal.platformAdmin,
            ),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/alerts/:name/test',
      summary: 'Evaluates a rule now and sends a test notification to its webhook (platform-admins)',
      tag: 'alerts',
      response: z.object({
        rule: z.string(),
        values: z.array(z.object({ labels: Labels, value: z.number(), active: z.boolean() })),
        delivery: z.enum(['none', 'delivered', 'failed', 'dropped', 'refused']),
      }),
      handler: async ({ actor, params }) => {
        if (!actor.principal.platformAdmin)
          throw new AppError('forbidden', 'only platform-admins test alert rules (a test sends a webhook)');
        const { alerts } = observabilityOf(platform);
        const name = params.name!;
        if (!alerts.rules.some((rule) => rule.name === name))
          throw new AppError(
            'not_found',
            `no alert rule '${name}'; the rules are: ${alerts.rules.map((rule) => rule.name).join(', ') || 'none'}`,
          );
        const result = await alerts.test(name, actor.principal.userName);
        return { rule: name, ...result };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/alerts/prometheus-rules',
      summary: 'The alert rules as a Prometheus rule file (promtool check rules accepts it)',
      tag: 'alerts',
      response: z.string(),
      handler: async ({ reply }) => {
        reply.type('application/yaml; charset=utf-8');
        return prometheusRuleFile(observabilityOf(platform).alerts.rules);
      },
    }),
  ];
}
