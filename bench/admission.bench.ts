// Benchmark of the admission controller: `npm run bench:admission [-- --jobs 10000 --teams 10 --quota 4]`.
// On a file-backed SQLite platform (no seed), 10 teams each get a nominal quota of 4 GPUs of one type and the
// inventory declares exactly enough GPUs for all of them. 10,000 single-GPU jobs are queued across the teams
// (inserted directly, in one transaction). Then, until every job is admitted: the admitted jobs finish
// (marked succeeded, which frees their quota) and `platform.admission.tick()` admits the next ones.
// Reports admissions per second over the time spent in tick(), the number of ticks, and p50/p99 per tick,
// and checks what the controller promises: quota and capacity never exceeded, strict FIFO per team and GPU
// type, and one audit record per admitted job.
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { JobRow } from '../packages/core/src/admission/job-record.ts';
import { createTestPlatform } from '../packages/core/src/testing/test-platform.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    teams: { type: 'string', default: '10' },
    quota: { type: 'string', default: '4' },
  },
});
const jobCount = Number(values.jobs);
const teamCount = Number(values.teams);
const quota = Number(values.quota);
const goal = 5_000;
const gpuTypes = ['A100', 'H100'];

let now = Date.parse('2026-11-27T10:00:00Z');
const platform = await createTestPlatform('sqlite', null, { seed: false, clock: { now: () => now } });
const db = platform.store.db;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

try {
  // Teams, quotas and exactly enough declared GPUs of each type for every team's quota.
  const teams = Array.from({ length: teamCount }, (_, index) => ({
    name: `team-${String(index).padStart(2, '0')}`,
    gpuType: gpuTypes[index % gpuTypes.length] ?? 'A100',
  }));
  const setupStarted = performance.now();
  await db.transaction().execute(async (trx) => {
    for (const [index, team] of teams.entries()) {
      await trx
        .insertInto('teams')
        .values({ id: `team_${index}`, name: team.name, created_at: new Date(now).toISOString() })
        .execute();
      await trx
        .insertInto('quotas')
        .values({ team: team.name, gpu_type: team.gpuType, nominal: quota })
        .execute();
    }
    for (const gpuType of gpuTypes) {
      const needed = teams.filter((team) => team.gpuType === gpuType).length * quota;
      for (let index = 0; index < needed; index += 1) {
        await trx
          .insertInto('gpus')
          .values({
            id: `${gpuType}-${index}`,
            gpu_type: gpuType,
            device_index: index,
            source: 'declared',
            model: `bench ${gpuType}`,
            memory_mib: 81920,
          })
          .execute();
      }
    }
    const rows: JobRow[] = [];
    for (let index = 0; index < jobCount; index += 1) {
      const team = teams[index % teamCount]!;
      const id = `job_${String(index).padStart(12, '0')}`;
      rows.push({
        id,
        name: `bench-${index}`,
        team: team.name,
        owner: 'bench',
        product: 'fine-tune',
        kind: 'fine-tune',
        gpus: 1,
        gpu_type: team.gpuType,
        spot: 0,
        datasets: '[]',
        secrets: '[]',
        command: 'true',
        executor: 'local',
        max_runtime_s: 3600,
        grace_s: 30,
        status: 'queued',
        reasons: JSON.stringify([
          { code: 'WaitingForQuota', message: 'bench', asked: null, limit: null, rule: 'quota', next: null },
        ]),
        decision: '{}',
        estimate_micros: 3_670_000,
        reserved_micros: 0,
        cost_micros: 0,
        approval_id: null,
        gpu_indexes: '[]',
        gpu_source: null,
        exit_code: null,
        external_id: null,
        // One millisecond apart, in submission order: the queue order is (created_at, id).
        created_at: new Date(now - jobCount + index).toISOString(),
        admitted_at: null,
        started_at: null,
        ended_at: null,
        metered_until: null,
        rate_micros: null,
        experiment: null,
      });
    }
    for (let start = 0; start < rows.length; start += 500) {
      await trx
        .insertInto('jobs')
        .values(rows.slice(start, start + 500))
        .execute();
    }
  });
  const setupMs = performance.now() - setupStarted;

  const durations: number[] = [];
  let admitted = 0;
  let finished = 0;
  const admissionOrder = new Map<string, number[]>();
  let violations = 0;
  let cpuMs = 0;
  for (;;) {
    // The jobs admitted last tick finish: they free their quota and GPUs.
    now += 1000;
    const done = await db
      .updateTable('jobs')
      .set({ status: 'succeeded', ended_at: new Date(now).toISOString() })
      .where('status', 'in', ['admitted', 'running'])
      .executeTakeFirst();
    finished += Number(done.numUpdatedRows);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const count = await platform.admission.tick();
    durations.push(performance.now() - started);
    const cpu = process.cpuUsage(cpuBefore);
    cpuMs += (cpu.user + cpu.system) / 1000;
    admitted += count;
    if (count === 0) break;
    // What this tick admitted, per team: never more than the quota, and in submission order.
    const rows = await db
      .selectFrom('jobs')
      .select(['id', 'team', 'gpu_type', 'gpus'])
      .where('status', '=', 'admitted')
      .orderBy('id')
      .execute();
    const perTeam = new Map<string, number>();
    for (const row of rows) {
      perTeam.set(row.team, (perTeam.get(row.team) ?? 0) + row.gpus);
      const order = admissionOrder.get(row.team) ?? [];
      order.push(Number(row.id.slice(4)));
      admissionOrder.set(row.team, order);
    }
    for (const used of perTeam.values()) if (used > quota) violations += 1;
  }
  const ticks = durations.length;
  const totalMs = durations.reduce((sum, value) => sum + value, 0);
  const sorted = [...durations].sort((left, right) => left - right);
  for (const order of admissionOrder.values()) {
    for (let index = 1; index < order.length; index += 1) {
      if ((order[index] ?? 0) <= (order[index - 1] ?? 0)) violations += 1;
    }
  }
  const left = await db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('status', '=', 'queued')
    .executeTakeFirstOrThrow();
  const audited = await db
    .selectFrom('audit_records')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('action', '=', 'job.admitted')
    .executeTakeFirstOrThrow();
  const verify = await platform.audit.verify();
  const rate = admitted / (totalMs / 1000);
  const cpuRate = admitted / (cpuMs / 1000);
  const [load1] = loadavg();
  const lines = [
    `admission benchmark (SQLite file, ${platform.store.describe.replace(/^sqlite:.*\//, 'sqlite:…/')})`,
    `  setup: ${teamCount} teams × ${quota} GPUs quota, ${jobCount} queued single-GPU jobs inserted in ${setupMs.toFixed(0)} ms`,
    `  admitted: ${admitted} of ${jobCount} (${Number(left.count)} left queued), ${finished} finished`,
    `  ticks: ${ticks} (the last one finds nothing to admit), ${(admitted / Math.max(ticks - 1, 1)).toFixed(1)} admitted per tick`,
    `  time in tick(): ${totalMs.toFixed(1)} ms; per tick p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${(sorted.at(-1) ?? 0).toFixed(2)} ms`,
    `  admissions/s: ${rate.toFixed(0)} over wall time in tick() (goal ≥ ${goal}) ${rate >= goal ? 'MET' : 'NOT MET'}`,
    `  admissions per CPU second: ${cpuRate.toFixed(0)} (${cpuMs.toFixed(0)} ms of process CPU in tick(); load average ${load1?.toFixed(2)} on ${cpus().length} CPUs: wall time inflates on a busy machine)`,
    `  checks: quota/FIFO violations ${violations}; job.admitted audit records ${Number(audited.count)}; audit chain ${verify.ok ? 'ok' : 'BROKEN'} (${verify.checked} records)`,
  ];
  console.log(lines.join('\n'));
  if (admitted !== jobCount || violations > 0 || Number(audited.count) !== jobCount || !verify.ok) {
    process.exitCode = 1;
  }
} finally {
  await platform.dispose();
}
