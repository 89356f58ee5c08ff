// npm run bench:jobs [-- --jobs 500]: 500 trivial jobs through the local executor vs. spawning the same
// processes directly from Node, in one run and one process. Jobs are submitted one after another, each
// timed from submit until the runner has its process; Reports submit→running p50/p99, starts per second and memory
// per tracked job.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPlatform } from '@aicloud/core/testing';

const count = Number(process.argv[process.argv.indexOf('--jobs') + 1] || 500) || 500;
const command = 'sleep 20';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function direct(): Promise<{ latencies: number[]; seconds: number; pids: number[] }> {
  const latencies: number[] = [];
  const pids: number[] = [];
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    const t0 = performance.now();
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    latencies.push(performance.now() - t0);
    pids.push(child.pid!);
    child.unref();
  }
  return { latencies, seconds: (performance.now() - started) / 1000, pids };
}

// Both paths run in the same process with the platform loaded, so spawn costs the same for both.
const platform = await createTestPlatform('sqlite', null, { meterIntervalMs: 3_600_000 });
await platform.store.db.updateTable('budgets').set({ max_budget_micros: 1e12 }).execute();
const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
const actor = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: null };

const baseline = await direct();
for (const pid of baseline.pids) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

async function throughPlatform() {
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const latencies: number[] = [];
  const ids: string[] = [];
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    const t0 = performance.now();
    const { job } = await platform.jobs.submit(actor, {
      product: 'batch-inference',
      maxRuntime: '1m',
      command,
    });
    ids.push(job!.id);
    // Running = the executor has spawned the process and the runner recorded it.
    for (;;) {
      const row = await platform.store.db
        .selectFrom('jobs')
        .select(['external_id'])
        .where('id', '=', job!.id)
        .executeTakeFirstOrThrow();
      if (row.external_id) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  global.gc?.();
  const heapPerJob = (process.memoryUsage().heapUsed - heapBefore) / count;
  for (const id of ids) await platform.runner.stop(id, 'cancelled').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await platform.runner.idle();
  return { latencies, seconds, heapPerJob };
}

const ours = await throughPlatform();
await platform.dispose();
const row = (name: string, latencies: number[], seconds: number) =>
  `${name.padEnd(34)} ${percentile(latencies, 50).toFixed(2).padStart(9)} ${percentile(latencies, 99).toFixed(2).padStart(9)} ${(count / seconds).toFixed(1).padStart(10)}`;
console.log(`${count} trivial jobs (${command}), one run, this machine`);
console.log(
  `${'path'.padEnd(34)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'starts/s'.padStart(10)}`,
);
console.log(row('spawn from Node (baseline)', baseline.latencies, baseline.seconds));
console.log(row('aicloud submit → running', ours.latencies, ours.seconds));
console.log(
  `per-job time ratio (aicloud / spawn): ${(ours.seconds / baseline.seconds).toFixed(2)}×  (goal ≤ 1.5×)`,
);
console.log(`submit→running p50: ${percentile(ours.latencies, 50).toFixed(1)} ms (goal ≤ 50 ms)`);
console.log(`platform heap per tracked job: ${(ours.heapPerJob / 1024).toFixed(1)} KiB`);
