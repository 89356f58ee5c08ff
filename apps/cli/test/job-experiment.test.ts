import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startUp, tempDir, type UpProcess } from './cli-harness.ts';

/** `aicloud create job --experiment`: the job's run lands in that MLflow experiment of the team. */
let server: UpProcess;
let tokens: Record<string, { token: string }>;
const as = (user: string) => ({ AICLOUD_URL: server.url, AICLOUD_TOKEN: tokens[user]!.token });

async function mlflow(user: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}/api/2.0/mlflow${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${tokens[user]!.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON, checked by the assertions.
  return { status: response.status, body: (await response.json()) as any };
}

/** Submits a job through the CLI, follows it to its end and answers its id. */
async function submit(user: string, experiment: string): Promise<string> {
  const metric = `{"event":"metric","step":1,"loss":0.5}`;
  const result = await runCli(
    [
      'create',
      'job',
      '--type',
      'batch-inference',
      '--command',
      `echo '${metric}'`,
      '--experiment',
      experiment,
      '--max-runtime',
      '5m',
      '-y',
      '-o',
      'json',
    ],
    as(user),
  );
  expect(result.code, result.stderr).toBe(0);
  const { job } = JSON.parse(result.stdout) as { job: { id: string; experiment: string } };
  expect(job.experiment).toBe(experiment);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await runCli(['jobs', 'get', job.id, '-o', 'json'], as(user));
    const status = (JSON.parse(got.stdout) as { status: string }).status;
    if (status === 'succeeded') return job.id;
    if (!['admitted', 'queued', 'running'].includes(status) || Date.now() > deadline)
      throw new Error(`job ${job.id} ${status}: ${got.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  const dataDir = tempDir('aicloud-experiment-cli-');
  server = await startUp(['--data-dir', dataDir]);
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

describe('aicloud create job --experiment', () => {
  it('records the run in that experiment of the team; another team’s experiment of the same name is another one', async () => {
    const name = 'legal fine-tunes/q4';
    const aliceJob = await submit('alice', name);
    const carolJob = await submit('carol', name);

    const mine = await mlflow(
      'alice',
      `/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
    );
    expect(mine.status, JSON.stringify(mine.body)).toBe(200);
    const theirs = await mlflow(
      'carol',
      `/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
    );
    expect(theirs.status).toBe(200);
    expect(theirs.body.experiment.experiment_id).not.toBe(mine.body.experiment.experiment_id);

    // The run ends with the job; its stdout metric is a run metric; carol's run is not in alice's experiment.
    let runs: { info: { status: string }; data: { tags: { key: string; value: string }[] } }[] = [];
    const deadline = Date.now() + 30_000;
    do {
      const search = await mlflow('alice', '/runs/search', {
        experiment_ids: [mine.body.experiment.experiment_id],
      });
      expect(search.status).toBe(200);
      runs = search.body.runs ?? [];
      if (runs[0]?.info.status === 'FINISHED') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } while (Date.now() < deadline);
    expect(runs).toHaveLength(1);
    const run = runs[0] as (typeof runs)[number] & {
      info: { run_id: string };
      data: { metrics: { key: string; value: number }[] };
    };
    expect(run.info.status).toBe('FINISHED');
    expect(run.data.tags).toContainEqual({ key: 'aicloud.job', value: aliceJob });
    expect(run.data.tags).not.toContainEqual({ key: 'aicloud.job', value: carolJob });
    expect(run.data.metrics).toContainEqual(expect.objectContaining({ key: 'loss', value: 0.5 }));
    expect((await mlflow('carol', `/runs/get?run_id=${run.info.run_id}`)).status).toBe(404);

    // Without --experiment the run lands in the team's own experiment, as before.
    const plain = await runCli(
      ['create', 'job', '--type', 'batch-inference', '-y', '-o', 'json'],
      as('alice'),
    );
    expect(JSON.parse(plain.stdout).job.experiment).toBeNull();
  }, 180_000);

  it('refuses a bad experiment name with a 400 that names the field, submitting nothing', async () => {
    const before = JSON.parse((await runCli(['jobs', 'list', '-o', 'json'], as('alice'))).stdout).length;
    for (const bad of ['', 'tab\there', 'x'.repeat(257)]) {
      const refused = await runCli(
        ['create', 'job', '--type', 'batch-inference', '--experiment', bad, '-y'],
        as('alice'),
      );
      expect(refused.code, refused.stdout).toBe(2);
      expect(refused.stderr).toContain('experiment');
      const response = await fetch(`${server.url}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.alice!.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ product: 'batch-inference', experiment: bad }),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as {
        error: { code: string; issues: { path: string[]; message: string }[] };
      };
      expect(body.error.code).toBe('invalid_input');
      expect(body.error.issues.map((issue) => issue.path)).toEqual([['experiment']]);
      expect(body.error.issues[0]!.message).toMatch(/1-256 characters|no control characters/);
    }
    const after = JSON.parse((await runCli(['jobs', 'list', '-o', 'json'], as('alice'))).stdout).length;
    expect(before).toBeGreaterThan(0);
    expect(after).toBe(before);
  }, 120_000);
});
