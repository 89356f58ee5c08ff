import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@aicloud/client';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startUp, tempDir } from './cli-harness.ts';

const seed = `
users:
  - { name: admin, platformAdmin: true }
  - { name: alice }
teams:
  - name: legal-rag
    members: [{ user: alice, role: member }]
gpus:
  - { type: A100, count: 30, model: test, memoryMiB: 1 }
quotas:
  - { team: legal-rag, gpuType: A100, nominal: 20 }
`;

describe('crash recovery', () => {
  it('keeps 20 running jobs tracked and limited and runs 10 queued ones exactly once after kill -9, without double metering', async () => {
    const dir = tempDir('aicloud-recovery-');
    const seedFile = join(dir, 'seed.yaml');
    writeFileSync(seedFile, seed);
    const first = await startUp(['--data-dir', join(dir, 'data'), '--seed-file', seedFile]);
    const token = JSON.parse(readFileSync(join(dir, 'data/credentials.json'), 'utf8')).alice.token as string;
    const api = createClient({ url: first.url, token });
    // Each start appends a line to the job's own output dir (kept across restarts; a sandboxed job sees
    // nothing else of the machine): a job started twice would show two.
    const command = 'echo "$AICLOUD_JOB_ID" >> "$AICLOUD_OUTPUT_DIR/starts"; sleep 8';
    const outcomes: string[] = [];
    for (let index = 0; index < 30; index += 1) {
      const result = await api.jobs.submit({
        product: 'fine-tune',
        gpus: 1,
        maxRuntime: '2m',
        name: `r${index}`,
        command,
      });
      outcomes.push(result.admission.outcome);
    }
    expect(outcomes.filter((outcome) => outcome === 'admitted')).toHaveLength(20);
    expect(outcomes.filter((outcome) => outcome === 'queued')).toHaveLength(10);
    const dbFile = join(dir, 'data/aicloud.db');
    const count = (status: string) => {
      const db = new Database(dbFile, { readonly: true });
      try {
        return (db.prepare('select count(*) as n from jobs where status = ?').get(status) as { n: number }).n;
      } finally {
        db.close();
      }
    };
    for (let waited = 0; count('running') < 20 && waited < 30_000; waited += 200)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(count('running')).toBe(20);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startUp(['--data-dir', join(dir, 'data'), '--seed-file', seedFile]);
    try {
      for (let waited = 0; count('succeeded') < 30 && waited < 60_000; waited += 500)
        await new Promise((resolve) => setTimeout(resolve, 500));
      expect(count('succeeded')).toBe(30);
      const db = new Database(dbFile, { readonly: true });
      const ids = (db.prepare('select id from jobs').all() as { id: string }[]).map((row) => row.id);
      const started = ids.flatMap((id) =>
        readFileSync(join(dir, 'data/jobs', id, 'output/starts'), 'utf8')
          .trim()
          .split('\n'),
      );
      expect(started).toHaveLength(30);
      expect(new Set(started)).toEqual(new Set(ids));
      try {
        const jobs = db.prepare('select id, started_at, ended_at, cost_micros from jobs').all() as {
          id: string;
          started_at: string;
          ended_at: string;
          cost_micros: number;
        }[];
        for (const job of jobs) {
          const rows = db
            .prepare(
              'select window_start, window_end, quantity, cost_micros from usage_ledger where source_id = ? order by window_start',
            )
            .all(job.id) as {
            window_start: string;
            window_end: string;
            quantity: number;
            cost_micros: number;
          }[];
          // Accruals never overlap (a negative row may settle the end to the executor's own end time).
          const accruals = rows.filter((row) => row.quantity > 0);
          for (let index = 1; index < accruals.length; index += 1) {
            expect(accruals[index]!.window_start >= accruals[index - 1]!.window_end).toBe(true);
          }
          const hours = (Date.parse(job.ended_at) - Date.parse(job.started_at)) / 3_600_000;
          expect(rows.reduce((sum, row) => sum + row.quantity, 0)).toBeCloseTo(hours, 6);
          expect(
            Math.abs(rows.reduce((sum, row) => sum + row.cost_micros, 0) - job.cost_micros),
          ).toBeLessThanOrEqual(1);
        }
      } finally {
        db.close();
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 180_000);
});
