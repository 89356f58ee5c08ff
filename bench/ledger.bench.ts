// Benchmark of the usage ledger and the bill: `npm run bench:ledger [-- --rows 1000000]`.
// 1. Writes N ledger rows (default 10 million: 100 teams × 30 days × 20 workloads, time-major as live
//    metering writes them) into a SQLite file with the store's migrations (indexes, daily rollup triggers),
//    in batched transactions with one prepared statement; reports µs per row (goal ≤ 50).
// 2. Times the bill service's queries: the 30-day bill of one team (p95 over 20 teams; goal ≤ 1 s) and
//    the all-teams summary (goal ≤ 3 s).
// 3. Times the same queries as plain SQL over an unindexed copy of the table (the baseline), in the
//    same run, checks both give the same totals, and prints the ratios.
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { createBillService } from '../packages/core/src/billing/bill-service.ts';
import type { Clock } from '../packages/core/src/clock.ts';
import type { Actor } from '../packages/core/src/identity/principal.ts';
import { openStore } from '../packages/core/src/store/open-store.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    teams: { type: 'string', default: '100' },
    days: { type: 'string', default: '30' },
    workloads: { type: 'string', default: '20' },
    'bill-teams': { type: 'string', default: '20' },
    'baseline-teams': { type: 'string', default: '5' },
    batch: { type: 'string', default: '5000' },
    file: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const totalRows = Number(values.rows);
const teamCount = Number(values.teams);
const days = Math.min(Number(values.days), 30);
const workloads = Number(values.workloads);
const billTeams = Math.min(Number(values['bill-teams']), teamCount);
const baselineTeams = Math.min(Number(values['baseline-teams']), teamCount);
const batchSize = Number(values.batch);
const file = values.file ?? join(tmpdir(), `aicloud-ledger-bench-${process.pid}.db`);

const DAY = 86_400_000;
const HOUR = 3_600_000;
const monthStart = Date.UTC(2026, 10, 1);
const monthEnd = Date.UTC(2026, 11, 1);
// Late on the last generated day: the month is the current budget period, the last 24 h are the burn.
const now = monthStart + days * DAY - 60_000;
const clock: Clock = { now: () => now };
const teamName = (index: number) => `team-${String(index).padStart(3, '0')}`;

const log = (line: string) => process.stdout.write(`${line}\n`);
const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);

function removeDatabase(): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
}

/** One workload's shape: its category, resource, unit, rate and GPUs. */
function workloadShape(index: number) {
  if (index === workloads - 1)
    return {
      category: 'storage',
      kind: 'storage',
      resource: 'storage:models',
      unit: 'gb_hour',
      rate: 32,
      size: 250,
    };
  const shapes = [
    { category: 'training', kind: 'job', resource: 'gpu:A100', unit: 'gpu_hour', rate: 3_670_000, size: 4 },
    {
      category: 'training',
      kind: 'job',
      resource: 'gpu:H100:spot',
      unit: 'gpu_hour',
      rate: 2_100_000,
      size: 8,
    },
    {
      category: 'inference',
      kind: 'endpoint',
      resource: 'gpu:H100',
      unit: 'gpu_hour',
      rate: 4_200_000,
      size: 1,
    },
    {
      category: 'notebooks',
      kind: 'notebook',
      resource: 'gpu:A100',
      unit: 'gpu_hour',
      rate: 3_670_000,
      size: 1,
    },
  ];
  return shapes[index % shapes.length]!;
}

async function main() {
  removeDatabase();
  log(
    `ledger bench: ${totalRows.toLocaleString('en')} rows, ${teamCount} teams × ${days} days × ${workloads} workloads, SQLite ${file}`,
  );
  const store = await openStore({ sqliteFile: file });
  const createdAt = new Date(monthStart).toISOString();
  const teams = Array.from({ length: teamCount }, (_, index) => teamName(index));
  await store.db
    .insertInto('teams')
    .values(teams.map((name) => ({ id: `team_${name}`, name, created_at: createdAt })))
    .execute();
  await store.db
    .insertInto('budgets')
    .values(
      teams.map((name, index) => ({
        team: name,
        max_budget_micros: (20_000 + index * 500) * 1_000_000,
        soft_budget_micros: null,
        budget_duration: '1mo',
        period_anchor: '2026-01-01T00:00:00.000Z',
        ceiling_micros: null,
        updated_at: createdAt,
      })),
    )
    .execute();

  // 1. Writes: the store's own pragmas, one prepared statement, batched transactions.
  const writer = new SqliteDatabase(file);
  writer.pragma('journal_mode = WAL');
  writer.pragma('busy_timeout = 5000');
  writer.pragma('synchronous = NORMAL');
  const insert = writer.prepare(
    `insert into usage_ledger (id, team, user_name, project, category, resource, quantity, unit, rate_micros,
       cost_micros, source_kind, source_id, window_start, window_end, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const perTeamDay = Math.ceil(totalRows / (teamCount * days));
  const slots = Math.max(1, Math.ceil(perTeamDay / workloads));
  const slotMs = Math.floor(DAY / slots);
  type Row = unknown[];
  /** The ledger rows in the order live metering writes them: day by day, slot by slot, every team. */
  function* ledgerRows(limit: number): Generator<Row> {
    let count = 0;
    for (let day = 0; day < days; day += 1) {
      for (let slot = 0; slot < slots; slot += 1) {
        const start = monthStart + day * DAY + slot * slotMs;
        const windowStart = new Date(start).toISOString();
        const windowEnd = new Date(start + slotMs).toISOString();
        const hours = slotMs / HOUR;
        for (let team = 0; team < teamCount; team += 1) {
          for (let workload = 0; workload < workloads; workload += 1) {
            if (count >= limit) return;
            const shape = workloadShape(workload);
            const quantity = hours * shape.size * (1 + ((team + workload) % 3));
            count += 1;
            yield [
              nextId(),
              teamName(team),
              `user-${team}-${workload % 5}`,
              `wl-${workload}`,
              shape.category,
              shape.resource,
              quantity,
              shape.unit,
              shape.rate,
              Math.round(quantity * shape.rate),
              shape.kind,
              `${shape.kind}_${team}_${workload}`,
              windowStart,
              windowEnd,
              windowEnd,
            ];
          }
        }
      }
    }
  }
  let ids = '';
  let idOffset = 0;
  const nextId = () => {
    if (idOffset >= ids.length) {
      ids = randomBytes(8 * 4096).toString('hex');
      idOffset = 0;
    }
    idOffset += 16;
    return `use_${ids.slice(idOffset - 16, idOffset)}`;
  };

  // The floor, for scale on a busy machine: the same rows into a bare table (no index, no trigger).
  writer.exec('create table usage_ledger_floor as select * from usage_ledger where 0');
  const floorInsert = writer.prepare(
    'insert into usage_ledger_floor values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const floorBatch = writer.transaction((rows: Row[]) => {
    for (const row of rows) floorInsert.run(row);
  });
  const floorRows = Math.min(totalRows, 100_000);
  const floorStarted = performance.now();
  let pending: Row[] = [];
  for (const row of ledgerRows(floorRows)) {
    pending.push(row);
    if (pending.length >= batchSize) {
      floorBatch(pending);
      pending = [];
    }
  }
  if (pending.length > 0) floorBatch(pending);
  const floorUs = ((performance.now() - floorStarted) * 1000) / floorRows;
  writer.exec('drop table usage_ledger_floor');
  log(`floor: ${floorRows.toLocaleString('en')} rows into a bare table at ${floorUs.toFixed(1)} µs/row`);

  const writeBatch = writer.transaction((rows: Row[]) => {
    for (const row of rows) insert.run(row);
  });
  let written = 0;
  let batch: Row[] = [];
  const writeStarted = performance.now();
  let lastReport = writeStarted;
  for (const row of ledgerRows(totalRows)) {
    batch.push(row);
    written += 1;
    if (batch.length >= batchSize) {
      writeBatch(batch);
      batch = [];
      if (performance.now() - lastReport > 15_000) {
        lastReport = performance.now();
        log(
          `  … ${written.toLocaleString('en')} rows, ${(((lastReport - writeStarted) * 1000) / written).toFixed(1)} µs/row`,
        );
      }
    }
  }
  if (batch.length > 0) writeBatch(batch);
  const writeMs = performance.now() - writeStarted;
  const usPerRow = (writeMs * 1000) / written;
  writer.pragma('wal_checkpoint(TRUNCATE)');
  log(
    `wrote ${written.toLocaleString('en')} rows in ${ms(writeMs)}: ${usPerRow.toFixed(1)} µs/row (file ${(statSync(file).size / 1e9).toFixed(2)} GB)`,
  );

  // 2. The service's queries (Kysely over the same store the platform opens).
  const admin: Actor = {
    principal: {
      userId: 'usr_bench',
      userName: 'bench',
      platformAdmin: true,
      teams: new Map(),
      tokenId: 'tok_bench',
      tokenName: 'bench',
      tokenExpiresAt: null,
      scope: null,
    },
    requestId: null,
  };
  const bills = createBillService({ store, clock });
  const period = '2026-11';
  const sampleTeams = Array.from({ length: billTeams }, (_, index) =>
    teamName(Math.floor((index * teamCount) / billTeams)),
  );
  await bills.bill(admin, { team: sampleTeams[0], period, by: 'workload' });
  const teamTimes: number[] = [];
  const serviceTotals = new Map<string, number>();
  for (const team of sampleTeams) {
    const started = performance.now();
    const bill = await bills.bill(admin, { team, period, by: 'workload' });
    teamTimes.push(performance.now() - started);
    serviceTotals.set(team, bill.totalMicros);
  }
  const allTimes: number[] = [];
  let allTotal = 0;
  for (let round = 0; round < 3; round += 1) {
    const started = performance.now();
    const summary = await bills.billAllTeams(admin, { period });
    allTimes.push(performance.now() - started);
    allTotal = summary.totalMicros;
  }

  // 3. Baseline: the same queries as plain SQL over an unindexed copy of the table.
  const copyStarted = performance.now();
  writer.exec('create table usage_ledger_plain as select * from usage_ledger');
  log(`copied the ledger into an unindexed table in ${ms(performance.now() - copyStarted)}`);
  const from = new Date(monthStart).toISOString();
  const to = new Date(monthEnd).toISOString();
  const burnFrom = new Date(now - 24 * HOUR).toISOString();
  const burnTo = new Date(now + 1).toISOString();
  const plainGroups = writer.prepare(
    `select team, category, substr(window_start, 1, 10) as day, user_name, source_kind, source_id, resource, unit,
       max(project) as project, sum(quantity) as quantity, sum(cost_micros) as cost, count(*) as rows
     from usage_ledger_plain where team = ? and window_start >= ? and window_start < ?
     group by team, category, day, user_name, source_kind, source_id, resource, unit`,
  );
  const plainSpend = writer.prepare(
    `select team, category, sum(cost_micros) as cost from usage_ledger_plain
     where team = ? and window_start >= ? and window_start < ? group by team, category`,
  );
  const plainAllSpend = writer.prepare(
    `select team, category, sum(cost_micros) as cost from usage_ledger_plain
     where window_start >= ? and window_start < ? group by team, category`,
  );
  const plainCommitted = writer.prepare(
    `select team, coalesce(sum(case when reserved_micros > cost_micros then reserved_micros - cost_micros else 0 end), 0) as total
     from jobs where status in ('queued', 'admitted', 'running') group by team`,
  );
  const baselineTeamTimes: number[] = [];
  let totalsAgree = true;
  for (const team of sampleTeams.slice(0, baselineTeams)) {
    const started = performance.now();
    const groups = plainGroups.all(team, from, to) as { cost: number }[];
    plainSpend.all(team, from, to); // the budget period's spend
    plainSpend.all(team, burnFrom, burnTo); // the burn rate
    plainCommitted.all();
    baselineTeamTimes.push(performance.now() - started);
    const total = groups.reduce((sum, group) => sum + Number(group.cost), 0);
    if (total !== serviceTotals.get(team)) totalsAgree = false;
  }
  const baselineAllStarted = performance.now();
  const plainAll = plainAllSpend.all(from, to) as { cost: number }[];
  plainAllSpend.all(from, to); // budget periods (the same month here)
  plainAllSpend.all(burnFrom, burnTo);
  plainCommitted.all();
  const baselineAllMs = performance.now() - baselineAllStarted;
  if (plainAll.reduce((sum, row) => sum + Number(row.cost), 0) !== allTotal) totalsAgree = false;

  const p95 = (times: number[]) => {
    const sorted = [...times].sort((a, b) => a - b);
    return sorted[Math.max(0, Math.ceil(sorted.length * 0.95) - 1)]!;
  };
  const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  const teamP95 = p95(teamTimes);
  const baselineTeamP95 = p95(baselineTeamTimes);
  const allMs = median(allTimes);
  const rows = [
    [
      'measure',
      'service (indexes + daily rollup)',
      'baseline (plain SQL, unindexed copy)',
      'speed-up',
      'goal',
      'met',
    ],
    [
      'ledger write, batched (indexes + rollup trigger)',
      `${usPerRow.toFixed(1)} µs/row`,
      `bare table, same rows: ${floorUs.toFixed(1)} µs/row`,
      `${(usPerRow / floorUs).toFixed(1)}× the bare table`,
      '≤ 50 µs/row',
      usPerRow <= 50 ? 'yes' : 'NO',
    ],
    [
      `30-day team bill, p95 (${teamTimes.length} teams / ${baselineTeamTimes.length} baseline)`,
      ms(teamP95),
      ms(baselineTeamP95),
      `${(baselineTeamP95 / teamP95).toFixed(0)}×`,
      '≤ 1 s',
      teamP95 <= 1000 ? 'yes' : 'NO',
    ],
    [
      `all-teams summary (${teamCount} teams), median of 3`,
      ms(allMs),
      ms(baselineAllMs),
      `${(baselineAllMs / allMs).toFixed(0)}×`,
      '≤ 3 s',
      allMs <= 3000 ? 'yes' : 'NO',
    ],
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  log('');
  for (const [index, row] of rows.entries()) {
    log(`| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`);
    if (index === 0) log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
  }
  log('');
  log(
    `team bill: min ${ms(Math.min(...teamTimes))}, median ${ms(median(teamTimes))}, max ${ms(Math.max(...teamTimes))}`,
  );
  log(
    `load average while running: ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  log(`totals of the service equal the baseline's sums of ledger rows: ${totalsAgree ? 'yes' : 'NO'}`);
  writer.close();
  await store.close();
  if (!values.keep) removeDatabase();
  if (!totalsAgree) process.exitCode = 1;
}

await main();
