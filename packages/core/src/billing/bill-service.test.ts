import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Admission } from '@aicloud/contracts';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AppError } from '../app-error.ts';
import type { Clock } from '../clock.ts';
import type { Actor } from '../identity/principal.ts';
import { jobPaths } from '../runner/job-paths.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { billCsv, microsText } from './bill-csv.ts';
import { createBillService } from './bill-service.ts';
import { checkBudgetAlerts } from './budget-alerts.ts';
import { createWebhookQueue } from './budget-webhook.ts';
import { appendUsage, type UsageCategory, type UsageEntry } from './ledger.ts';
import { storageTick } from './storage-meter.ts';

const pgUrl = inject('pgUrl');
const HOUR = 3_600_000;

/** A clock the test moves by hand. */
function manualClock(start: string): Clock & { set(iso: string): void; advance(ms: number): void } {
  let now = Date.parse(start);
  return {
    now: () => now,
    set(iso) {
      now = Date.parse(iso);
    },
    advance(ms) {
      now += ms;
    },
  };
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[index + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      index += 1;
    } else field += char;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe.each(storeTargets(pgUrl))('the bill on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  afterEach(async () => platform?.dispose());

  async function actorFor(user: string): Promise<Actor> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    return {
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    };
  }

  async function spend(clock: Clock, entries: Partial<UsageEntry>[]): Promise<void> {
    await platform.store.db.transaction().execute((trx) =>
      appendUsage(
        trx,
        clock,
        entries.map((entry) => ({
          team: 'legal-rag',
          user: 'alice',
          project: 'legal-ft',
          category: 'training',
          resource: 'gpu:A100',
          quantity: 1,
          unit: 'gpu_hour',
          rateMicros: 1_000_000,
          sourceKind: 'job',
          sourceId: 'job_a',
          windowStart: new Date(clock.now() - 60_000).toISOString(),
          windowEnd: new Date(clock.now()).toISOString(),
          ...entry,
        })),
      ),
    );
  }

  it('totals equal the sum of the ledger rows exactly, in every breakdown and side by side', async () => {
    const clock = manualClock('2026-11-20T12:00:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    const categories: UsageCategory[] = ['training', 'inference', 'notebooks', 'storage'];
    const entries: Partial<UsageEntry>[] = [];
    let seed = 7;
    const random = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    for (let index = 0; index < 400; index += 1) {
      const start = Date.parse('2026-10-28T00:00:00.000Z') + Math.floor(random() * 24 * 24) * HOUR;
      entries.push({
        team: random() < 0.75 ? 'legal-rag' : 'search',
        user: ['alice', 'bob', 'carol'][index % 3]!,
        category: categories[index % 4]!,
        resource: index % 4 === 3 ? 'storage:models' : `gpu:${index % 2 ? 'A100' : 'H100'}`,
        unit: index % 4 === 3 ? 'gb_hour' : 'gpu_hour',
        quantity: Math.round(random() * 1e6) / 1e5,
        rateMicros: 1 + Math.floor(random() * 5_000_000),
        sourceId: `job_${index % 17}`,
        project: `work, "${index % 17}"`,
        windowStart: new Date(start).toISOString(),
        windowEnd: new Date(start + 30_000).toISOString(),
      });
    }
    await spend(clock, entries);
    const admin = await actorFor('admin');
    const bills = createBillService({ store: platform.store, clock });
    const sums = await platform.store.db
      .selectFrom('usage_ledger')
      .select(['team', 'category', (eb) => eb.fn.sum<number>('cost_micros').as('cost')])
      .where('window_start', '>=', '2026-11-01T00:00:00.000Z')
      .where('window_start', '<', '2026-12-01T00:00:00.000Z')
      .groupBy(['team', 'category'])
      .execute();
    const expected = (team: string, category?: string) =>
      sums
        .filter((row) => row.team === team && (!category || row.category === category))
        .reduce((sum, row) => sum + Number(row.cost), 0);
    for (const by of ['category', 'day', 'user', 'resource', 'workload'] as const) {
      const bill = await bills.bill(admin, { team: 'legal-rag', period: '2026-11', by });
      expect(bill.totalMicros).toBe(expected('legal-rag'));
      expect(bill.breakdown.reduce((sum, line) => sum + line.costMicros, 0)).toBe(bill.totalMicros);
      for (const total of bill.categories)
        expect(total.costMicros).toBe(expected('legal-rag', total.category));
    }
    const teams = await bills.billAllTeams(admin, { period: '2026-11' });
    expect(teams.teams.map((team) => [team.team, team.totalMicros])).toEqual([
      ['legal-rag', expected('legal-rag')],
      ['search', expected('search')],
    ]);
    // A window that starts and ends mid-day: whole days come from the rollup, the edges from the ledger.
    clock.set('2026-11-15T17:30:00.000Z');
    const since = await bills.billAllTeams(admin, { since: '5d' });
    const ledger = await platform.store.db
      .selectFrom('usage_ledger')
      .select((eb) => eb.fn.sum<number>('cost_micros').as('cost'))
      .where('window_start', '>=', '2026-11-10T17:30:00.000Z')
      .where('window_start', '<=', '2026-11-15T17:30:00.000Z')
      .executeTakeFirstOrThrow();
    expect(since.totalMicros).toBe(Number(ledger.cost));
    const teamSince = await bills.bill(admin, { team: 'search', since: '5d' });
    expect(teamSince.totalMicros).toBe(since.teams.find((team) => team.team === 'search')!.totalMicros);
  });

  it('hides one team’s bill from a member of another (not found), and shows members their own', async () => {
    const clock = manualClock('2026-11-20T12:00:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    await spend(clock, [{ quantity: 3 }]);
    const bills = createBillService({ store: platform.store, clock });
    const carol = await actorFor('carol');
    for (const read of [
      () => bills.bill(carol, { team: 'legal-rag' }),
      () => bills.rows(carol, { team: 'legal-rag' }),
      () => bills.alerts(carol, 'legal-rag'),
    ]) {
      const error = await read().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('not_found');
    }
    const own = await bills.bill(carol, {});
    expect(own.teams).toEqual(['search']);
    expect(own.total).toBe(0);
    const alice = await actorFor('alice');
    const bill = await bills.bill(alice, { team: 'legal-rag', by: 'workload' });
    expect(bill.total).toBe(3);
    expect(bill.budget?.maxBudget).toBe(300);
    expect(bill.topWorkloads[0]).toMatchObject({ key: 'job_a', label: 'legal-ft', cost: 3 });
    const rows = await bills.rows(alice, { team: 'legal-rag', sourceId: 'job_a' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ quantity: 3, rate: 1, cost: 3, unit: 'gpu_hour' });
    const admin = await actorFor('admin');
    const error = await bills.bill(admin, { team: 'nope' }).catch((caught: unknown) => caught);
    expect((error as AppError).code).toBe('not_found');
  });

  it('forecasts the period end and the run-out time from the last 24 h burn rate (fixed clock)', async () => {
    const clock = manualClock('2026-11-11T00:00:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    // $60 on Nov 2, then $24 over the last 24 h: a burn of $24/day.
    await spend(clock, [
      { quantity: 60, windowStart: '2026-11-02T10:00:00.000Z', windowEnd: '2026-11-02T11:00:00.000Z' },
      { quantity: 10, windowStart: '2026-11-10T01:00:00.000Z', windowEnd: '2026-11-10T02:00:00.000Z' },
      { quantity: 14, windowStart: '2026-11-10T20:00:00.000Z', windowEnd: '2026-11-10T21:00:00.000Z' },
    ]);
    const alice = await actorFor('alice');
    const bill = await createBillService({ store: platform.store, clock }).bill(alice, { team: 'legal-rag' });
    expect(bill.from).toBe('2026-11-01T00:00:00.000Z');
    expect(bill.to).toBe('2026-12-01T00:00:00.000Z');
    expect(bill.total).toBe(84);
    expect(bill.budget).toMatchObject({
      maxBudget: 300,
      spent: 84,
      committed: 0,
      remaining: 216,
      usedPercent: 28,
    });
    expect(bill.forecast).toEqual({
      lookbackHours: 24,
      burnRatePerDay: 24,
      projectedTo: '2026-12-01T00:00:00.000Z',
      // 84 + 20 days × $24
      projectedTotal: 564,
      projectedPeriodSpend: 564,
      // (300 − 84) ÷ 24 = 9 days from Nov 11
      runsOutAt: '2026-11-20T00:00:00.000Z',
      exhausted: false,
    });
    expect(bill.daily).toHaveLength(11);
    expect(bill.daily.find((day) => day.day === '2026-11-10')?.training).toBe(24);
    // The same numbers as the budget admission uses.
    const shown = await platform.budgets.show(alice, 'legal-rag');
    expect(shown).toMatchObject({ spent: bill.budget!.spent, committed: bill.budget!.committed });
    // A past month has no forecast without a budget period running.
    const past = await createBillService({ store: platform.store, clock }).bill(alice, {
      team: 'legal-rag',
      period: '2026-10',
    });
    expect(past.forecast?.projectedTotal).toBe(0);
  });

  it('fires each budget alert once (50, soft, 80, 100), audited, and then refuses new work by policy', async () => {
    const clock = manualClock('2026-11-11T00:00:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    const thresholds = async () =>
      (
        await platform.store.db
          .selectFrom('budget_alerts')
          .select('threshold')
          .where('team', '=', 'legal-rag')
          .orderBy('fired_at')
          .orderBy('threshold')
          .execute()
      ).map((row) => row.threshold);
    const tick = async () => {
      clock.advance(11_000);
      await platform.tick();
    };
    // legal-rag: $300 per month, soft $200.
    await spend(clock, [{ quantity: 149.99 }]);
    await tick();
    expect(await thresholds()).toEqual([]);
    await spend(clock, [{ quantity: 0.01 }]);
    await tick();
    await tick();
    expect(await thresholds()).toEqual(['50']);
    await spend(clock, [{ quantity: 50 }]);
    await tick();
    expect(await thresholds()).toEqual(['50', 'soft']);
    await spend(clock, [{ quantity: 40 }]);
    await tick();
    await tick();
    expect(await thresholds()).toEqual(['50', 'soft', '80']);
    await spend(clock, [{ quantity: 60 }]);
    await tick();
    await tick();
    expect(await thresholds()).toEqual(['50', 'soft', '80', '100']);
    const audit = await platform.store.db
      .selectFrom('audit_records')
      .select('details')
      .where('action', '=', 'budget.alert')
      .orderBy('seq')
      .execute();
    expect(audit.map((row) => JSON.parse(row.details).threshold)).toEqual(['50', 'soft', '80', '100']);
    expect(JSON.parse(audit[3]!.details)).toMatchObject({ spent: 300, maxBudget: 300 });
    const alice = await actorFor('alice');
    const alerts = await createBillService({ store: platform.store, clock }).alerts(alice, 'legal-rag');
    expect(alerts.map((alert) => alert.threshold).sort()).toEqual(['100', '50', '80', 'soft']);
    expect(alerts.every((alert) => alert.delivery === 'none')).toBe(true);
    // At 100 % new work is refused by the budget policy, which the refusal names.
    const refusal = (await platform.jobs
      .submit(alice, { product: 'fine-tune', gpus: 1, gpuType: 'A100', maxRuntime: '1h' })
      .catch((caught: unknown) => caught)) as AppError;
    expect(refusal).toBeInstanceOf(AppError);
    const admission = (refusal.details as { admission: Admission }).admission;
    expect(admission.reasons.map((reason) => reason.rule ?? reason.code)).toEqual(
      expect.arrayContaining(['budget-exhausted']),
    );
    // Next month is a new period: the alerts may fire again there.
    clock.set('2026-12-01T00:05:00.000Z');
    await spend(clock, [{ quantity: 151 }]);
    await tick();
    expect((await thresholds()).filter((threshold) => threshold === '50')).toHaveLength(2);
  });

  it('POSTs each alert to the webhook, retrying with backoff, without blocking the check', async () => {
    const clock = manualClock('2026-11-11T00:00:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    await platform.store.db
      .insertInto('settings')
      .values({ key: 'budget_webhook_url', value: JSON.stringify('http://hooks.invalid/budget') })
      .execute();
    const calls: { body: unknown; at: number }[] = [];
    const queue = createWebhookQueue({
      allowedHosts: ['hooks.invalid'],
      backoffMs: 20,
      fetch: async (_url, init) => {
        calls.push({ body: JSON.parse(String(init?.body)), at: Date.now() });
        // The first two tries fail: the third is delivered.
        return new Response(null, { status: calls.length <= 2 ? 503 : 204 });
      },
    });
    await spend(clock, [{ quantity: 160 }]);
    const started = performance.now();
    const fired = await checkBudgetAlerts({
      store: platform.store,
      audit: platform.audit,
      clock,
      webhooks: queue,
      webhookAllowedHosts: ['hooks.invalid'],
    });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(fired.map((alert) => alert.threshold)).toEqual(['50']);
    await queue.drain();
    expect(calls).toHaveLength(3);
    expect(calls[2]!.body).toMatchObject({
      type: 'budget.alert',
      team: 'legal-rag',
      threshold: '50',
      spent: 160,
    });
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(35);
    const row = await platform.store.db
      .selectFrom('budget_alerts')
      .select('delivery')
      .where('team', '=', 'legal-rag')
      .executeTakeFirstOrThrow();
    expect(row.delivery).toBe('delivered');
    // Checked again: nothing new fires, nothing is POSTed again.
    expect(
      await checkBudgetAlerts({ store: platform.store, audit: platform.audit, clock, webhooks: queue }),
    ).toEqual([]);
    await queue.drain();
    expect(calls).toHaveLength(3);
  });

  it('stops running spot jobs at 100 % when stop_spot_at_budget is set', async () => {
    const clock = manualClock('2026-11-11T00:00:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    await platform.store.db
      .insertInto('settings')
      .values({ key: 'stop_spot_at_budget', value: 'true' })
      .execute();
    const alice = await actorFor('alice');
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 1,
      gpuType: 'A100',
      spot: true,
      maxRuntime: '1h',
      command: 'sleep 30',
    });
    await platform.store.db
      .updateTable('jobs')
      .set({ status: 'running' })
      .where('id', '=', job!.id)
      .execute();
    await spend(clock, [{ quantity: 300 }]);
    const stopped: string[] = [];
    await checkBudgetAlerts({
      store: platform.store,
      audit: platform.audit,
      clock,
      stopJob: async (id) => {
        stopped.push(id);
      },
    });
    expect(stopped).toEqual([job!.id]);
    await platform.jobs.cancel(alice, job!.id).catch(() => {});
  });

  it('accrues stored bytes hourly at the $/GB-month rate, once per hour, also after a restart', async () => {
    const clock = manualClock('2026-11-11T10:30:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    const db = platform.store.db;
    // A registered model of legal-rag: 2 GB in two files (a second version shares the same copy).
    await db
      .insertInto('models')
      .values({
        id: 'mdl_1',
        name: 'legal',
        team: 'legal-rag',
        created_by: 'bob',
        created_at: '2026-11-01T00:00:00Z',
      })
      .execute();
    const version = (number: number) => ({
      model_id: 'mdl_1',
      version: number,
      source: 'path:/tmp/x',
      runtime: 'aicloud-tiny',
      files: JSON.stringify([
        { path: 'model.safetensors', sha256: 'a', size: 1_500_000_000 },
        { path: 'config.json', sha256: 'b', size: 500_000_000 },
      ]),
      digest: 'sha256:abc',
      artifact_dir: 'artifacts/sha256-abc',
      metrics: '{}',
      tags: '{}',
      scan: '{}',
      scan_verdict: 'passed',
      trust_remote_code: 0,
      lineage: '{"datasets":[],"jobId":null}',
      created_by: 'bob',
      created_at: '2026-11-01T00:00:00Z',
    });
    await db
      .insertInto('model_versions')
      .values([version(1), version(2)])
      .execute();
    // A finished job of search with 1 MB of output.
    const carol = await actorFor('carol');
    const { job } = await platform.jobs.submit(carol, {
      product: 'fine-tune',
      gpus: 1,
      gpuType: 'A100',
      maxRuntime: '1h',
    });
    await db
      .updateTable('jobs')
      .set({ status: 'succeeded', started_at: '2026-11-10T00:00:00.000Z' })
      .where('id', '=', job!.id)
      .execute();
    const output = jobPaths(platform.dataDir, job!.id).outputDir;
    mkdirSync(output, { recursive: true });
    writeFileSync(join(output, 'weights.bin'), Buffer.alloc(1_000_000));

    expect(await storageTick({ store: platform.store, clock, dataDir: platform.dataDir })).toBe(1);
    expect(await storageTick({ store: platform.store, clock, dataDir: platform.dataDir })).toBe(0);
    // A restart forgets what it accrued in memory; the store still knows.
    expect(await storageTick({ store: { ...platform.store }, clock, dataDir: platform.dataDir })).toBe(0);
    await platform.tick();
    const rows = await db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('category', '=', 'storage')
      .orderBy('team')
      .execute();
    // $0.023/GB-month ÷ 730 h = 32 micro-dollars per GB-hour (rounded), recorded on each row.
    expect(
      rows.map((row) => [
        row.team,
        row.resource,
        row.unit,
        Number(row.quantity),
        Number(row.rate_micros),
        Number(row.cost_micros),
        row.window_start,
      ]),
    ).toEqual([
      ['legal-rag', 'storage:models', 'gb_hour', 2, 32, 64, '2026-11-11T09:00:00.000Z'],
      ['search', 'storage:job_outputs', 'gb_hour', 0.001, 32, 0, '2026-11-11T09:00:00.000Z'],
    ]);
    // Two hours later: the two hours since are accrued, each once.
    clock.set('2026-11-11T12:05:00.000Z');
    await platform.tick();
    await platform.tick();
    const hours = await db
      .selectFrom('usage_ledger')
      .select('window_start')
      .where('team', '=', 'legal-rag')
      .where('category', '=', 'storage')
      .orderBy('window_start')
      .execute();
    expect(hours.map((row) => row.window_start.slice(11, 16))).toEqual(['09:00', '10:00', '11:00']);
    const alice = await actorFor('alice');
    const bill = await createBillService({ store: platform.store, clock }).bill(alice, { team: 'legal-rag' });
    expect(bill.categories.find((total) => total.category === 'storage')?.costMicros).toBe(3 * 64);
  });

  it('writes csv for finance that parses back to the breakdown', async () => {
    const clock = manualClock('2026-11-20T12:00:00.000Z');
    platform = await createTestPlatform(target, pgUrl, { clock });
    await spend(clock, [
      { quantity: 1.5, project: 'fine-tune, "v2"\nretry', sourceId: 'job_x' },
      { quantity: 0.25, rateMicros: 3_670_000, sourceId: 'job_y', project: 'plain' },
      {
        category: 'storage',
        resource: 'storage:models',
        unit: 'gb_hour',
        quantity: 2,
        rateMicros: 32,
        sourceId: 's',
      },
    ]);
    const alice = await actorFor('alice');
    const bill = await createBillService({ store: platform.store, clock }).bill(alice, {
      team: 'legal-rag',
      by: 'workload',
    });
    const rows = parseCsv(billCsv(bill));
    const header = rows[0]!;
    expect(header).toContain('cost_usd');
    expect(rows).toHaveLength(bill.breakdown.length + 1);
    const records = rows
      .slice(1)
      .map((row) => Object.fromEntries(header.map((name, index) => [name, row[index]])));
    expect(records.map((record) => record.label)).toEqual(bill.breakdown.map((line) => line.label));
    expect(records.find((record) => record.source_id === 'job_x')?.label).toBe('fine-tune, "v2"\nretry');
    for (const record of records) expect(record.cost_usd).toMatch(/^\d+\.\d{2,}$/);
    const totalMicros = records.reduce((sum, record) => sum + Math.round(Number(record.cost_usd) * 1e6), 0);
    expect(totalMicros).toBe(bill.totalMicros);
    expect(microsText(917_500)).toBe('0.917500');
  });
});

describe('a running job in the bill', () => {
  it.each(storeTargets(pgUrl))(
    'shows its cost within 60 s on %s',
    async (target) => {
      const platform = await createTestPlatform(target, pgUrl, { meterIntervalMs: 500 });
      try {
        const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
        const alice: Actor = {
          principal: await platform.identity.authenticate(credentials.alice.token),
          requestId: null,
        };
        const bills = createBillService({ store: platform.store, clock: platform.clock });
        const { job } = await platform.jobs.submit(alice, {
          product: 'fine-tune',
          gpus: 1,
          gpuType: 'A100',
          maxRuntime: '5m',
          command: 'sleep 20',
        });
        const started = Date.now();
        let bill = await bills.bill(alice, { team: 'legal-rag', by: 'workload' });
        while (bill.total === 0 && Date.now() - started < 60_000) {
          await platform.tick();
          await new Promise((resolve) => setTimeout(resolve, 200));
          bill = await bills.bill(alice, { team: 'legal-rag', by: 'workload' });
        }
        expect(Date.now() - started).toBeLessThan(60_000);
        expect((await platform.jobs.get(alice, job!.id)).status).toBe('running');
        const line = bill.topWorkloads.find((candidate) => candidate.key === job!.id);
        expect(line?.category).toBe('training');
        expect(line?.unit).toBe('gpu_hour');
        expect(bill.categories.find((total) => total.category === 'training')!.costMicros).toBeGreaterThan(0);
        // The job's cost is its metered runtime × rate, to the micro-dollar; the bill says the same.
        const rows = await platform.store.db
          .selectFrom('usage_ledger')
          .selectAll()
          .where('source_id', '=', job!.id)
          .execute();
        const jobRow = await platform.store.db
          .selectFrom('jobs')
          .select('cost_micros')
          .where('id', '=', job!.id)
          .executeTakeFirstOrThrow();
        expect(rows.reduce((sum, row) => sum + Number(row.cost_micros), 0)).toBe(Number(jobRow.cost_micros));
        expect(line?.costMicros).toBe(Number(jobRow.cost_micros));
        await platform.jobs.cancel(alice, job!.id);
      } finally {
        await platform.dispose();
      }
    },
    90_000,
  );
});
