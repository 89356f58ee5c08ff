import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

const steps = [
  { name: 'make', product: 'batch-inference', command: 'echo hi > "$AICLOUD_OUTPUT_DIR/x"' },
  { name: 'use', product: 'batch-inference', command: 'cat "$AICLOUD_INPUT_MAKE/x"', dependsOn: ['make'] },
];

describe('/v1/pipelines over HTTP', () => {
  it('creates, lists, gets, runs to the end; another team sees nothing; bad input is a 400', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/pipelines',
      headers: t.as('alice'),
      payload: { name: 'http', steps },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const deadline = Date.now() + 60_000;
    let pipeline = created.json();
    while (pipeline.status === 'running' && Date.now() < deadline) {
      await t.platform.tick();
      await t.platform.runner.idle();
      pipeline = (await t.app.inject({ url: `/v1/pipelines/${id}`, headers: t.as('alice') })).json();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pipeline.status, JSON.stringify(pipeline.reason)).toBe('succeeded');
    const list = await t.app.inject({ url: '/v1/pipelines', headers: t.as('alice') });
    expect(list.json().items.map((p: { id: string }) => p.id)).toContain(id);

    expect((await t.app.inject({ url: `/v1/pipelines/${id}`, headers: t.as('carol') })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/v1/pipelines', headers: t.as('carol') })).json().items).toEqual([]);
    expect((await t.app.inject({ url: `/v1/pipelines/${id}` })).statusCode).toBe(401);

    const retry = await t.app.inject({
      method: 'POST',
      url: `/v1/pipelines/${id}/retry`,
      headers: t.as('alice'),
    });
    expect(retry.statusCode).toBe(409);
    for (const payload of [
      { name: 'x', steps: [] },
      { name: 'x', steps: [{ name: 'Bad Name', product: 'p', command: 'true' }] },
      { name: 'x', steps: [{ name: 'a', product: 'batch-inference', command: 'true', dependsOn: ['a'] }] },
      { name: 'x', steps: [{ name: 'a', product: 'batch-inference', command: 'true', dependsOn: ['nope'] }] },
    ]) {
      const bad = await t.app.inject({
        method: 'POST',
        url: '/v1/pipelines',
        headers: t.as('alice'),
        payload,
      });
      expect(bad.statusCode, bad.body).toBe(400);
      expect(bad.json().error.code).toBe('invalid_input');
    }
  }, 120_000);
});
