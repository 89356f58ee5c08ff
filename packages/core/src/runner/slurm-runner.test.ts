import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform } from '../testing/test-platform.ts';
import { jobPaths } from './job-paths.ts';

// The test setup (test/global-setup.ts) starts the project's own one-node cluster (scripts/services/slurm-up.sh)
// unless AICLOUD_TEST_SLURM=1 says one is up. These tests never skip: without a cluster they fail, naming the fix.
function clusterProblem(): string | undefined {
  try {
    const nodes = execFileSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 10_000 }).trim();
    return nodes.length > 0 ? undefined : 'sinfo lists no nodes';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'sinfo is missing' : `sinfo failed: ${error}`;
  }
}

const unavailable = clusterProblem();
const noCluster = () =>
  new Error(
    `no usable Slurm cluster: ${unavailable}. Run \`npm test\` as root (its setup starts scripts/services/slurm-up.sh), ` +
      'or start one and set AICLOUD_TEST_SLURM=1',
  );

describe('jobs on Slurm through the platform', () => {
  it('has a Slurm cluster', () => {
    if (unavailable) throw noCluster();
  });
});

describe('jobs on the real Slurm cluster (same guardrails, metered from Slurm’s times)', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;

  beforeAll(async () => {
    if (unavailable) throw noCluster();
    // legal-rag's jobs are charged to their own Slurm account (a team not listed: the team's name).
    const slurm = { partition: 'gpu', accounts: { 'legal-rag': 'acct-legal' } };
    platform = await createTestPlatform('sqlite', null, { meterIntervalMs: 1000, slurm });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    alice = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: null };
  });
  afterAll(async () => platform?.dispose());

  it('runs a --gpus 2 job on Slurm: it sees two devices and is metered from Slurm’s start and end', async () => {
    const { job } = await platform.jobs.submit(alice, {
      product: 'fine-tune',
      gpus: 2,
      executor: 'slurm',
      maxRuntime: '5m',
      command: 'echo "devices=$CUDA_VISIBLE_DEVICES job=$AICLOUD_JOB_ID account=$SLURM_JOB_ACCOUNT"',
    });
    let current = await platform.jobs.get(alice, job!.id);
    for (
      let waited = 0;
      !['succeeded', 'failed', 'lost', 'timed_out'].includes(current.status) && waited < 90_000;
      waited += 500
    ) {
      await platform.tick();
      await new Promise((resolve) => setTimeout(resolve, 500));
      current = await platform.jobs.get(alice, job!.id);
    }
    expect(current.status).toBe('succeeded');
    expect(current.gpuSource).toBe('scheduler');
    const log = readFileSync(jobPaths(platform.dataDir, job!.id).logFile, 'utf8');
    expect(log).toMatch(new RegExp(`devices=\\d+,\\d+ job=${job!.id} account=acct-legal`));
    const row = await platform.store.db
      .selectFrom('jobs')
      .select('external_id')
      .where('id', '=', job!.id)
      .executeTakeFirstOrThrow();
    const slurmJob = execFileSync('scontrol', ['show', 'job', String(row.external_id), '-o'], {
      encoding: 'utf8',
    });
    expect(slurmJob).toMatch(/ Account=acct-legal /);
    const ledger = await platform.store.db
      .selectFrom('usage_ledger')
      .selectAll()
      .where('source_id', '=', job!.id)
      .execute();
    const hours = ledger.reduce((sum, row) => sum + row.quantity, 0);
    expect(hours).toBeCloseTo(
      ((Date.parse(current.endedAt!) - Date.parse(current.startedAt!)) / 3_600_000) * 2,
      6,
    );
  }, 120_000);

  it('charges a team without an account of its own to the account named like the team', async () => {
    const carol = {
      principal: await platform.identity.authenticate(
        JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8')).carol.token,
      ),
      requestId: null,
    };
    const { job } = await platform.jobs.submit(carol, {
      product: 'fine-tune',
      gpus: 1,
      executor: 'slurm',
      maxRuntime: '5m',
      command: 'echo "account=$SLURM_JOB_ACCOUNT"',
    });
    let current = await platform.jobs.get(carol, job!.id);
    for (let waited = 0; !current.endedAt && waited < 90_000; waited += 500) {
      await platform.tick();
      await new Promise((resolve) => setTimeout(resolve, 500));
      current = await platform.jobs.get(carol, job!.id);
    }
    expect(current.status).toBe('succeeded');
    expect(readFileSync(jobPaths(platform.dataDir, job!.id).logFile, 'utf8')).toContain('account=search');
  }, 120_000);

  it('refuses the 16-H100 request by policy before Slurm sees it', async () => {
    const before = execFileSync('squeue', ['-h', '-o', '%i'], { encoding: 'utf8' });
    await expect(
      platform.jobs.submit(alice, { product: 'fine-tune', gpus: 16, gpuType: 'H100', executor: 'slurm' }),
    ).rejects.toMatchObject({ code: 'policy_denied' });
    expect(execFileSync('squeue', ['-h', '-o', '%i'], { encoding: 'utf8' })).toBe(before);
  });
});
