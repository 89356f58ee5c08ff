import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const DATASET = 'projects/legal-rag/datasets/v2';

describe('GET /v1/lineage/{kind}/{ref}', () => {
  it('walks from a dataset (its path, slashes encoded) and a model version; refuses what it must', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/pipelines',
      headers: t.as('alice'),
      payload: {
        name: 'lin-http',
        steps: [
          {
            name: 'make',
            product: 'batch-inference',
            datasets: [DATASET],
            command: `echo w > "$AICLOUD_OUTPUT_DIR/w"; echo '{"name":"http-model","metrics":{"f1":0.8}}' > "$AICLOUD_OUTPUT_DIR/aicloud-register.json"`,
          },
        ],
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    let pipeline = created.json();
    for (const deadline = Date.now() + 60_000; pipeline.status === 'running' && Date.now() < deadline; ) {
      await t.platform.tick();
      await t.platform.runner.idle();
      pipeline = (await t.app.inject({ url: `/v1/pipelines/${id}`, headers: t.as('alice') })).json();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pipeline.status, JSON.stringify(pipeline.reason)).toBe('succeeded');

    const down = await t.app.inject({
      url: `/v1/lineage/dataset/${encodeURIComponent(DATASET)}?direction=down`,
      headers: t.as('alice'),
    });
    expect(down.statusCode, down.body).toBe(200);
    const graph = down.json();
    expect(graph.root).toBe(`dataset:${DATASET}`);
    expect(graph.nodes.find((node: { id: string }) => node.id === graph.root).contentHash).toMatch(
      /^[0-9a-f]{64}$/,
    );
    const model = graph.nodes.find((node: { kind: string }) => node.kind === 'model_version');
    expect(model).toMatchObject({ label: 'http-model@1', metrics: { f1: 0.8 } });

    const up = await t.app.inject({
      url: '/v1/lineage/model/http-model@1?direction=up',
      headers: t.as('alice'),
    });
    expect(up.statusCode, up.body).toBe(200);
    expect(up.json().nodes.map((node: { id: string }) => node.id)).toContain(`dataset:${DATASET}`);
    // The model-only lineage route beside it still answers.
    const old = await t.app.inject({ url: '/v1/lineage/models/http-model/1', headers: t.as('alice') });
    expect(old.statusCode, old.body).toBe(200);

    const refusals: [string, Record<string, string> | undefined, number, string][] = [
      ['/v1/lineage/model/http-model@1', t.as('carol'), 404, 'not_found'],
      [`/v1/lineage/dataset/${encodeURIComponent(DATASET)}`, t.as('carol'), 404, 'not_found'],
      ['/v1/lineage/endpoint/none-here', t.as('alice'), 404, 'not_found'],
      ['/v1/lineage/job/x', t.as('alice'), 400, 'invalid_input'],
      ['/v1/lineage/model/http-model', t.as('alice'), 400, 'invalid_input'],
      ['/v1/lineage/model/http-model@1?direction=sideways', t.as('alice'), 400, 'invalid_input'],
      ['/v1/lineage/model/http-model@1', undefined, 401, 'unauthenticated'],
    ];
    for (const [url, headers, status, code] of refusals) {
      const answer = await t.app.inject({ url, ...(headers ? { headers } : {}) });
      expect(answer.statusCode, `${url}: ${answer.body}`).toBe(status);
      expect(answer.json().error.code).toBe(code);
    }
  }, 120_000);
});
