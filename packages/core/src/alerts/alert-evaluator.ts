import type { AuditService } from '../audit/audit-service.ts';
import type { WebhookOutcome, WebhookQueue } from '../billing/budget-webhook.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/open-store.ts';
import type { AlertRule } from './alert-rules.ts';
import { ruleThreshold, type Scrape, type SeriesValue, seriesValues } from './alert-series.ts';
import { parseExposition } from './exposition.ts';

/** What the evaluator needs. */
export interface AlertEvaluatorDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  rules: readonly AlertRule[];
  /** The metrics text `/metrics` serves: the evaluator sees what Prometheus would. */
  scrape: () => Promise<string>;
  /** Delivers firing and resolved events (retried, never awaited by the evaluation). */
  webhooks: WebhookQueue;
}

/** An alert that is pending (condition holds, `for` not yet reached) or firing. */
export interface ActiveAlert {
  rule: string;
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  /** When the condition started to hold, and when the alert fired. */
  since: string;
  firedAt: string | null;
  value: number;
}

/** A firing or resolved event, as stored, audited and sent. */
export interface AlertEvent {
  id: string;
  rule: string;
  state: 'firing' | 'resolved';
  labels: Record<string, string>;
  value: number | null;
  time: string;
}

/** Evaluates the alert rules over scrapes of the platform's metrics. */
export interface AlertEvaluator {
  readonly rules: readonly AlertRule[];
  /** Scrapes once, evaluates every rule and raises firing/resolved events; answers the events raised. */
  evaluate(): Promise<AlertEvent[]>;
  /** Alerts pending or firing now. */
  active(): ActiveAlert[];
  /** A rule's current values per series (from a fresh scrape) and a `test` notification to its webhook. */
  test(name: string, actor: string): Promise<{ values: SeriesValue[]; delivery: WebhookOutcome | 'none' }>;
}

interface SeriesState {
  labels: Record<string, string>;
  since: number;
  firedAt: number | null;
  value: number;
}

/** Kinds whose series are endpoints (label `endpoint`): each gets its endpoint's team. */
const ENDPOINT_KINDS = new Set<AlertRule['kind']>(['error_rate', 'latency_p99', 'drift', 'quality']);

const seriesKey = (labels: Record<string, string>) =>
  JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));

/** Creates the evaluator; state resumes from the last stored event of each rule and series. */
export function createAlertEvaluator(deps: AlertEvaluatorDeps): AlertEvaluator {
  const { store, audit, clock, rules, webhooks } = deps;
  const states = new Map<string, Map<string, SeriesState>>(rules.map((rule) => [rule.name, new Map()]));
  const keep = Math.max(300, ...rules.map((rule) => rule.windowSeconds)) * 1000 + 60_000;
  let scrapes: Scrape[] = [];
  let resumed = false;

  async function resume(): Promise<void> {
    resumed = true;
    const rows = await store.db
      .selectFrom('alert_events')
      .selectAll()
      .orderBy('time')
      .orderBy('id')
      .execute();
    const last = new Map<string, (typeof rows)[number]>();
    for (const row of rows) last.set(`${row.rule}\u0000${row.series}`, row);
    for (const row of last.values()) {
      const byRule = states.get(row.rule);
      if (!byRule || row.state !== 'firing') continue;
      const at = Date.parse(row.time);
      byRule.set(row.series, {
        labels: JSON.parse(row.series) as Record<string, string>,
        since: at,
        firedAt: at,
        value: row.value ?? 0,
      });
    }
  }

  async function endpointTeams(): Promise<Map<string, string>> {
    const rows = await store.db.selectFrom('endpoints').select(['name', 'team']).execute();
    return new Map(rows.map((row) => [row.name, row.team]));
  }

  function payload(rule: AlertRule, status: string, state: SeriesState, now: number) {
    return {
      type: 'aicloud.alert',
      status,
      alert: rule.name,
      kind: rule.kind,
      severity: rule.severity,
      summary: rule.summary ?? null,
      labels: state.labels,
      value: state.value,
      threshold: ruleThreshold(rule),
      startsAt: new Date(state.firedAt ?? state.since).toISOString(),
      ...(status === 'resolved' ? { endsAt: new Date(now).toISOString() } : {}),
      source: rule.file,
    };
  }

  async function raise(rule: AlertRule, state: SeriesState, status: 'firing' | 'resolved', now: number) {
    const event: AlertEvent = {
      id: newId('alev'),
      rule: rule.name,
      state: status,
      labels: state.labels,
      value: state.value,
      time: new Date(now).toISOString(),
    };
    await store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('alert_events')
        .values({
          id: event.id,
          rule: rule.name,
          series: seriesKey(state.labels),
          state: status,
          value: state.value,
          time: event.time,
          delivery: rule.webhookUrl ? 'queued' : 'none',
        })
        .execute();
      await audit.append(trx, {
        actor: 'system',
        action: `alert.${status}`,
        resource: `alert/${rule.name}`,
        team: state.labels.team ?? null,
        outcome: status === 'firing' ? 'warn' : 'success',
        details: {
          labels: state.labels,
          value: state.value,
          threshold: ruleThreshold(rule),
          kind: rule.kind,
        },
      });
    });
    if (rule.webhookUrl) {
      webhooks.enqueue(rule.webhookUrl, payload(rule, status, state, now), async (outcome) => {
        await store.db
          .updateTable('alert_events')
          .set({ delivery: outcome })
          .where('id', '=', event.id)
          .execute();
      });
    }
    return event;
  }

  async function scrapeNow(): Promise<Scrape> {
    const scrape = { time: clock.now(), samples: parseExposition(await deps.scrape()) };
    scrapes = [
      ...scrapes.filter((kept) => kept.time >= scrape.time - keep && kept.time < scrape.time),
      scrape,
    ];
    return scrape;
  }

  async function valuesOf(
    rule: AlertRule,
    teams: () => Promise<Map<string, string>>,
  ): Promise<SeriesValue[] | null> {
    const values = seriesValues(rule, scrapes);
    if (values === null || !ENDPOINT_KINDS.has(rule.kind)) return values;
    // An endpoint's alerts belong to its team: the label says whose they are (and who may see them).
    const byName = await teams();
    return values.map((value) => {
      const team = byName.get(value.labels.endpoint ?? '');
      return team ? { ...value, labels: { ...value.labels, team } } : value;
    });
  }

  return {
    rules,
    async evaluate() {
      if (!resumed) await resume();
      const { time: now } = await scrapeNow();
      let teams: Map<string, string> | undefined;
      const lazyTeams = async () => {
        teams ??= await endpointTeams();
        return teams;
      };
      const events: AlertEvent[] = [];
      for (const rule of rules) {
        const byRule = states.get(rule.name)!;
        const values = await valuesOf(rule, lazyTeams);
        // Not enough scrapes for its window yet (just started): the rule's alerts stay as they are.
        if (values === null) continue;
        const seen = new Set<string>();
        for (const value of values) {
          if (!value.active) continue;
          const key = seriesKey(value.labels);
          seen.add(key);
          const state = byRule.get(key) ?? {
            labels: value.labels,
            since: now,
            firedAt: null,
            value: value.value,
          };
          state.value = value.value;
          byRule.set(key, state);
          if (state.firedAt === null && now - state.since >= rule.forSeconds * 1000) {
            state.firedAt = now;
            events.push(await raise(rule, state, 'firing', now));
          }
        }
        for (const [key, state] of byRule) {
          if (seen.has(key)) continue;
          byRule.delete(key);
          if (state.firedAt !== null) events.push(await raise(rule, state, 'resolved', now));
        }
      }
      return events;
    },
    active() {
      return rules.flatMap((rule) =>
        [...states.get(rule.name)!.values()].map((state) => ({
          rule: rule.name,
          labels: state.labels,
          state: state.firedAt === null ? ('pending' as const) : ('firing' as const),
          since: new Date(state.since).toISOString(),
          firedAt: state.firedAt === null ? null : new Date(state.firedAt).toISOString(),
          value: state.value,
        })),
      );
    },
    async test(name, actor) {
      const rule = rules.find((each) => each.name === name);
      if (!rule) throw new Error(`no alert rule ${name}`);
      const { time: now } = await scrapeNow();
      const values = (await valuesOf(rule, endpointTeams)) ?? [];
      await audit.record({
        actor,
        action: 'alert.tested',
        resource: `alert/${rule.name}`,
        outcome: 'success',
        details: { values: values.length, webhook: rule.webhookUrl !== null },
      });
      if (!rule.webhookUrl) return { values, delivery: 'none' as const };
      const first = values[0];
      const state: SeriesState = {
        labels: first?.labels ?? {},
        since: now,
        firedAt: now,
        value: first?.value ?? 0,
      };
      const delivery = await new Promise<WebhookOutcome>((resolve) =>
        webhooks.enqueue(rule.webhookUrl!, payload(rule, 'test', state, now), resolve),
      );
      return { values, delivery };
    },
  };
}
