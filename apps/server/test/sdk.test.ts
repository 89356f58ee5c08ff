import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@aicloud/client';
import { jobPaths } from '@aicloud/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/repo-paths.ts';
import { type RunningServer, startServer } from '../src/start-server.ts';

let server: RunningServer;
let alice: ReturnType<typeof createClient>;

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-sdk-'));
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    tickIntervalMs: 200,
  });
  const tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  alice = createClient({ url: server.url, token: tokens.alice.token });
});
afterAll(async () => server?.stop());

async function runJob(command: string) {
  const { job } = await alice.jobs.submit({ product: 'batch-inference', maxRuntime: '2m', command });
  for (let waited = 0; waited < 30_000; waited += 200) {
    const current = await alice.jobs.get(job!.id);
    if (!['admitted', 'queued', 'running'].includes(current.status)) return current;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('job did not end');
}

describe('workload SDKs', () => {
  it('the one-file Python SDK reports metrics through the API with the run token', async () => {
    const sdk = join(repoRoot, 'packages/sdk/python');
    const job = await runJob(
      `/usr/bin/python3 -c "import sys; sys.path.insert(0, '${sdk}'); import aicloud_sdk; print(aicloud_sdk.log_metrics({'loss': 1.25, 'accuracy': 0.5}, step=7)); print(aicloud_sdk.datasets())"`,
    );
    expect(job.status).toBe('succeeded');
    const log = readFileSync(jobPaths(server.platform.config.dataDir, job.id).logFile, 'utf8');
    expect(log).toContain('api');
    const metrics = await alice.jobs.metrics(job.id);
    expect(metrics.series.loss).toEqual([expect.objectContaining({ step: 7, value: 1.25 })]);
    expect(metrics.series.accuracy?.[0]?.value).toBe(0.5);
  });

  it('the TypeScript SDK reports metrics, and a run token can do nothing else', async () => {
    const tsx = join(repoRoot, 'node_modules/.bin/tsx');
    const sdk = join(repoRoot, 'packages/sdk/src/index.ts');
    const job = await runJob(
      `${tsx} -e "(async () => { const { logMetrics } = await import('${sdk}'); console.log(await logMetrics({ tokens_per_s: 2500 }, 3)); ` +
        `const response = await fetch(process.env.AICLOUD_URL + '/v1/jobs', { headers: { authorization: 'Bearer ' + process.env.AICLOUD_RUN_TOKEN } }); console.log('list', response.status); })()"`,
    );
    expect(job.status).toBe('succeeded');
    const log = readFileSync(jobPaths(server.platform.config.dataDir, job.id).logFile, 'utf8');
    expect(log).toContain('api');
    expect(log).toContain('list 403');
    const metrics = await alice.jobs.metrics(job.id);
    expect(metrics.series.tokens_per_s).toEqual([expect.objectContaining({ step: 3, value: 2500 })]);
  });

  it('outside a job the SDK prints a JSON line the platform would read', async () => {
    const { logMetrics } = await import('@aicloud/sdk');
    const written: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(
        await logMetrics({ loss: 2 }, 1, {
          jobId: null,
          outputDir: null,
          checkpointDir: null,
          datasets: [],
          client: null,
        }),
      ).toBe('stdout');
    } finally {
      process.stdout.write = original;
    }
    expect(JSON.parse(written[0]!)).toEqual({ event: 'metric', step: 1, loss: 2 });
  });
});
