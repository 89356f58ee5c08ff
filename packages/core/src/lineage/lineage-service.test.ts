import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LineageGraph, Pipeline } from '@aicloud/contracts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { hashTree } from './content-hash.ts';

const pgUrl = inject('pgUrl');
const DATASET = 'projects/legal-rag/datasets/v2';

type TestPlatform = Awaited<ReturnType<typeof createTestPlatform>>;

async function actorOf(platform: TestPlatform, user: string): Promise<Actor> {
  const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
  return { principal: await platform.identity.authenticate(credentials[user].token), requestId: null };
}

async function runToEnd(platform: TestPlatform, actor: Actor, id: string): Promise<Pipeline> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await platform.tick();
    await platform.runner.idle();
    const pipeline = await platform.pipelines.get(actor, id);
    if (pipeline.status !== 'running') return pipeline;
    if (Date.now() > deadline) throw new Error(`timed out; last ${JSON.stringify(pipeline)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const steps = [
  {
    name: 'prepare',
    product: 'batch-inference',
    datasets: [DATASET],
    command: 'cat "$AICLOUD_DATASETS"/* | wc -w > "$AICLOUD_OUTPUT_DIR/words"',
    cache: true,
  },
  {
    name: 'train',
    product: 'batch-inference',
    dependsOn: ['prepare'],
    command: [
      'cp "$AICLOUD_INPUT_PREPARE/words" "$AICLOUD_OUTPUT_DIR/weights.txt"',
      `echo '{"name":"lineage-model","metrics":{"accuracy":0.75}}' > "$AICLOUD_OUTPUT_DIR/aicloud-register.json"`,
    ].join('; '),
  },
];

const nodeIds = (graph: LineageGraph) => graph.nodes.map((node) => node.id).sort();

describe.each(storeTargets(pgUrl))('lineage graph (%s)', (target) => {
  let platform: TestPlatform;
  let alice: Actor;
  let pipeline: Pipeline;
  beforeAll(async () => {
    platform = await createTestPlatform(target, pgUrl, { pipelineRetryBaseMs: 200 });
    alice = await actorOf(platform, 'alice');
    const created = await platform.pipelines.create(alice, { name: 'lin', steps });
    pipeline = await runToEnd(platform, alice, created.id);
  }, 120_000);
  afterAll(async () => platform?.dispose());

  it('walks up from a model version to the dataset content hash through the pipeline steps', async () => {
    expect(pipeline.status, JSON.stringify(pipeline.reason)).toBe('succeeded');
    const [prepare, train] = pipeline.steps;
    const version = await platform.models.version(alice, 'lineage-model', 1);
    expect(version.metrics).toEqual({ accuracy: 0.75 });
    expect(version.source).toBe(`job:${train!.jobId}`);
    expect(version.tags['aicloud.pipeline']).toBe(pipeline.id);

    const graph = await platform.lineage.graph(alice, 'model', 'lineage-model@1', { direction: 'up' });
    expect(graph.root).toBe('model:legal-rag/lineage-model@1');
    const hash = hashTree(join(platform.dataDir, 'lake/legal-rag/v2'));
    const dataset = graph.nodes.find((node) => node.id === `dataset:${DATASET}`);
    expect(dataset?.contentHash).toBe(hash);
    expect(graph.edges).toEqual(
      expect.arrayContaining([
        { from: `job:${train!.jobId}`, to: graph.root, kind: 'registered_from' },
        { from: `pipeline:${pipeline.id}`, to: graph.root, kind: 'produced' },
        {
          from: `job:${prepare!.jobId}`,
          to: `job:${train!.jobId}`,
          kind: 'consumed',
          contentHash: prepare!.outputHash,
        },
        { from: `dataset:${DATASET}`, to: `job:${prepare!.jobId}`, kind: 'consumed', contentHash: hash },
        { from: `pipeline:${pipeline.id}`, to: `job:${train!.jobId}`, kind: 'step_of' },
      ]),
    );
    const model = graph.nodes.find((node) => node.id === graph.root)!;
    expect(model.kind).toBe('model_version');
    expect(model.metrics).toEqual({ accuracy: 0.75 });
    const run = await platform.store.db
      .selectFrom('tracking_runs')
      .select('id')
      .where('job_id', '=', train!.jobId!)
      .executeTakeFirst();
    expect(model.sourceRunId).toBe(run?.id ?? null);
    expect(graph.nodes.find((node) => node.id === `job:${prepare!.jobId}`)?.kind).toBe('step_job');
    // Upstream only: no endpoint, nothing downstream of the model.
    expect(graph.nodes.some((node) => node.kind === 'endpoint')).toBe(false);
  });

  it('walks down from the dataset to the endpoint that served the version, with its from/to times', async () => {
    await platform.endpoints.deploy(alice, {
      model: 'lineage-model',
      version: 1,
      name: 'lineage-ep',
      minReplicas: 0,
      scaleToZero: true,
    });
    await platform.endpoints.delete(alice, 'lineage-ep');
    const down = await platform.lineage.graph(alice, 'dataset', DATASET, { direction: 'down' });
    const endpoint = down.nodes.find((node) => node.kind === 'endpoint');
    expect(endpoint?.label).toBe('lineage-ep');
    expect(endpoint?.from).toMatch(/^\d{4}-/);
    expect(endpoint?.to).toMatch(/^\d{4}-/);
    expect(down.edges).toContainEqual({
      from: 'model:legal-rag/lineage-model@1',
      to: endpoint!.id,
      kind: 'deployed_as',
    });
    expect(nodeIds(down)).toContain(`pipeline:${pipeline.id}`);

    const fromEndpoint = await platform.lineage.graph(alice, 'endpoint', 'lineage-ep', { direction: 'up' });
    expect(nodeIds(fromEndpoint)).toEqual(expect.arrayContaining([`dataset:${DATASET}`, fromEndpoint.root]));
    const both = await platform.lineage.graph(alice, 'model', 'lineage-model@1');
    expect(nodeIds(both)).toEqual(expect.arrayContaining([`dataset:${DATASET}`, endpoint!.id]));
  });

  it("answers 404 for another team's root and never shows another team's nodes", async () => {
    const carol = await actorOf(platform, 'carol');
    await expect(platform.lineage.graph(carol, 'dataset', DATASET)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.lineage.graph(carol, 'model', 'lineage-model@1')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.lineage.graph(carol, 'endpoint', 'lineage-ep')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.lineage.graph(alice, 'model', 'lineage-model')).rejects.toMatchObject({
      code: 'invalid_input',
    });
    // Another team's job on record as reading the dataset (as one admitted before the own-team rule):
    // alice's graph never names it, and a platform-admin's does.
    const prepareJob = await platform.store.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', pipeline.steps[0]!.jobId!)
      .executeTakeFirstOrThrow();
    await platform.store.db
      .insertInto('jobs')
      .values({ ...prepareJob, id: 'job_othertm', team: 'search', owner: 'carol', name: 'other' })
      .execute();
    const seen = await platform.lineage.graph(alice, 'dataset', DATASET, { direction: 'down' });
    expect(seen.nodes.length).toBeGreaterThan(3);
    expect(seen.nodes.every((node) => node.team === 'legal-rag')).toBe(true);
    expect(JSON.stringify(seen.edges)).not.toContain('job_othertm');
    const admin = await actorOf(platform, 'admin');
    const all = await platform.lineage.graph(admin, 'dataset', DATASET, { direction: 'down' });
    expect(nodeIds(all)).toContain('job:job_othertm');
  });

  it('a changed dataset misses the step cache; the same one hits it', async () => {
    const again = await runToEnd(
      platform,
      alice,
      (await platform.pipelines.create(alice, { name: 'lin', steps: [steps[0]!] })).id,
    );
    expect(again.steps[0]!.status).toBe('cached');
    writeFileSync(join(platform.dataDir, 'lake/legal-rag/v2/extra.txt'), 'one more document\n');
    const changed = await runToEnd(
      platform,
      alice,
      (await platform.pipelines.create(alice, { name: 'lin', steps: [steps[0]!] })).id,
    );
    expect(changed.status).toBe('succeeded');
    expect(changed.steps[0]!.status).toBe('succeeded');
    expect(changed.steps[0]!.cacheKey).not.toBe(again.steps[0]!.cacheKey);
    const dataset = await platform.lineage.graph(alice, 'dataset', DATASET, { direction: 'up' });
    expect(dataset.nodes[0]!.contentHash).toBe(hashTree(join(platform.dataDir, 'lake/legal-rag/v2')));
  }, 120_000);
});
