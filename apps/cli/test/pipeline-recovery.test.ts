import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@aicloud/client';
import type { LineageGraph, Pipeline } from '@aicloud/contracts';
import { describe, expect, it } from 'vitest';
import { runCli, startUp, tempDir, type UpProcess } from './cli-harness.ts';

const DATASET = 'projects/legal-rag/datasets/v2';

/** How many times a line was appended to `file` across every job's output dir: each run of a step adds one. */
function runsOf(dataDir: string, file: string): number {
  const jobs = join(dataDir, 'jobs');
  return readdirSync(jobs)
    .map((id) => join(jobs, id, 'output', file))
    .filter((path) => existsSync(path))
    .reduce((total, path) => total + readFileSync(path, 'utf8').trim().split('\n').length, 0);
}

const spec = {
  name: 'crash',
  steps: [
    {
      name: 'one',
      product: 'batch-inference',
      datasets: [DATASET],
      command:
        'echo run >> "$AICLOUD_OUTPUT_DIR/ran-one"; ls "$AICLOUD_DATASETS" > "$AICLOUD_OUTPUT_DIR/files"',
    },
    {
      name: 'two',
      product: 'batch-inference',
      dependsOn: ['one'],
      retries: 1,
      command:
        'echo run >> "$AICLOUD_OUTPUT_DIR/ran-two"; sleep 6; cp "$AICLOUD_INPUT_ONE/files" "$AICLOUD_OUTPUT_DIR/"',
    },
    {
      name: 'three',
      product: 'batch-inference',
      dependsOn: ['two'],
      command: [
        'echo run >> "$AICLOUD_OUTPUT_DIR/ran-three"',
        'cp "$AICLOUD_INPUT_TWO/files" "$AICLOUD_OUTPUT_DIR/weights"',
        `echo '{"name":"crash-model","metrics":{"eval_accuracy":0.5}}' > "$AICLOUD_OUTPUT_DIR/aicloud-register.json"`,
      ].join('; '),
    },
  ],
};

describe('pipelines survive kill -9 of the server', () => {
  it('resumes a pipeline killed during step two without rerunning step one; the version has its metrics and lineage', async () => {
    const dir = tempDir('aicloud-pipeline-crash-');
    const dataDir = join(dir, 'data');
    const config = tempDir('aicloud-config-');
    const first = await startUp(['--data-dir', dataDir]);
    let second: UpProcess | undefined;
    try {
      const token = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')).alice.token as string;
      const specFile = join(dir, 'crash.json');
      writeFileSync(specFile, JSON.stringify(spec));
      const env = { AICLOUD_CONFIG_DIR: config, AICLOUD_URL: first.url, AICLOUD_TOKEN: token };
      const run = await runCli(['pipelines', 'run', specFile, '-o', 'json'], env);
      expect(run.code, run.stderr).toBe(0);
      const id = (JSON.parse(run.stdout) as Pipeline).id;

      // Kill the server while step two's job runs (step one done).
      const api = createClient({ url: first.url, token });
      let pipeline = await api.pipelines.get(id);
      for (let waited = 0; waited < 60_000; waited += 200) {
        pipeline = await api.pipelines.get(id);
        const two = pipeline.steps[1]!;
        if (two.status === 'running' && two.jobId && (await api.jobs.get(two.jobId)).status === 'running')
          break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(pipeline.steps.map((step) => step.status)).toEqual(['succeeded', 'running', 'pending']);
      first.child.kill('SIGKILL');
      await first.exited;

      second = await startUp(['--data-dir', dataDir]);
      const again = createClient({ url: second.url, token });
      for (let waited = 0; waited < 90_000; waited += 500) {
        pipeline = await again.pipelines.get(id);
        if (pipeline.status !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(pipeline.status, JSON.stringify(pipeline)).toBe('succeeded');
      expect(runsOf(dataDir, 'ran-one')).toBe(1);
      expect(pipeline.steps[0]!.jobIds).toHaveLength(1);
      expect(runsOf(dataDir, 'ran-three')).toBe(1);
      // Step two's job outlived the server (re-attached), or was lost and retried once: never more.
      expect(runsOf(dataDir, 'ran-two')).toBeLessThanOrEqual(2);

      const version = await again.models.version('crash-model', 1);
      expect(version.metrics.eval_accuracy).toBe(0.5);
      expect(version.source).toBe(`job:${pipeline.steps[2]!.jobId}`);

      const envAgain = { ...env, AICLOUD_URL: second.url };
      const json = await runCli(
        ['lineage', 'model', 'crash-model@1', '--direction', 'up', '-o', 'json'],
        envAgain,
      );
      expect(json.code, json.stderr).toBe(0);
      const graph = JSON.parse(json.stdout) as LineageGraph;
      const dataset = graph.nodes.find((node) => node.id === `dataset:${DATASET}`);
      expect(dataset?.contentHash).toMatch(/^[0-9a-f]{64}$/);
      const tree = await runCli(['lineage', 'model', 'crash-model@1'], envAgain);
      expect(tree.code, tree.stderr).toBe(0);
      expect(tree.stdout).toContain('model legal-rag/crash-model@1');
      expect(tree.stdout).toContain('metrics eval_accuracy=0.5');
      expect(tree.stdout).toMatch(/[├└]─ registered_from step three \(job \S+\) {2}succeeded/);
      expect(tree.stdout).toContain(
        `consumed [${dataset!.contentHash!.slice(0, 12)}] dataset ${DATASET}  registered  sha256 ${dataset!.contentHash}`,
      );
      const down = await runCli(['lineage', 'dataset', DATASET, '-d', 'down'], envAgain);
      expect(down.stdout).toContain('registered_from model legal-rag/crash-model@1');
      const missing = await runCli(['lineage', 'endpoint', 'no-such-endpoint'], envAgain);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("endpoint 'no-such-endpoint' not found");
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      if (second) {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    }
  }, 240_000);
});
