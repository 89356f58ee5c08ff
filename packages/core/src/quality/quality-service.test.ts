import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { hashKey } from '../serving/endpoint-service.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { createQualityService } from './quality-service.ts';

/**
 * The quality service on SQLite and PostgreSQL, against a stand-in for the platform's gateway on 127.0.0.1
 * that checks each request's key against the store (the real gateway path is tested in apps/server).
 */
const questions: Record<string, string> = {
  'What settles disputes out of court?': 'arbitration',
  'Who signs a contract?': 'the parties',
};
let gateway: Server;
let url: string;
let answers: Record<string, string> = {};
let judgeReply = 'Score: 9';
const seenKeys = new Set<string>();
let platform: Awaited<ReturnType<typeof createTestPlatform>>;

beforeAll(async () => {
  gateway = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    request.on('end', async () => {
      const secret = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
      const key = await platform.store.db
        .selectFrom('endpoint_keys')
        .selectAll()
        .where('hash', '=', hashKey(secret))
        .executeTakeFirst();
      if (!key || key.revoked_at) {
        response.writeHead(401).end('{}');
        return;
      }
      seenKeys.add(key.id);
      const body = JSON.parse(text) as { model: string; messages: { content: string }[] };
      const prompt = body.messages[0]!.content;
      const content = body.model === 'legal-judge' ? judgeReply : answers[prompt];
      if (content === undefined) {
        response.writeHead(502).end('{}');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }));
    });
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  const address = gateway.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(() => gateway?.close());

const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('quality service on %s', (target) => {
  let now = Date.parse('2026-12-05T09:00:00Z');
  const clock = { now: () => now };
  let alice: Actor;
  let carol: Actor;
  const DATASET = 'projects/legal-rag/datasets/qa-evals';

  beforeAll(async () => {
    platform = await createTestPlatform(target, pgUrl, { clock });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    const actor = async (user: string) => ({
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: null,
    });
    alice = await actor('alice');
    carol = await actor('carol');
    const endpoint = (id: string, name: string) => ({
      id,
      name,
      team: 'legal-rag',
      model_id: 'mdl_test',
      model_name: name,
      version: 1,
      runtime: 'aicloud-tiny',
      artifact_dir: '/nonexistent',
      product: 'inference-small',
      gpus: 0,
      gpu_type: null,
      min_replicas: 0,
      max_replicas: 1,
      target_concurrency: 4,
      idle_timeout_s: 900,
      status: 'ready',
      created_by: 'alice',
      created_at: new Date(now).toISOString(),
      deleted_at: null,
      rate_micros: null,
    });
    await platform.store.db
      .insertInto('endpoints')
      .values([endpoint('ep_answer', 'legal-answerer'), endpoint('ep_judge', 'legal-judge')])
      .execute();
    const folder = join(platform.dataDir, 'lake/legal-rag/evals');
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, 'qa.jsonl'),
      Object.entries(questions)
        .map(([prompt, reference]) => JSON.stringify({ prompt, reference }))
        .join('\n'),
    );
    await platform.datasets.register(alice, {
      path: DATASET,
      location: `file://${join(folder, 'qa.jsonl')}`,
      encrypted: false,
      tags: {},
    });
  });
  afterAll(async () => {
    await platform?.dispose();
  });

  it('stores scores per version, exports the current version, and runs a due schedule', async () => {
    const quality = createQualityService({
      store: platform.store,
      audit: platform.audit,
      clock,
      apiUrl: () => url,
    });
    answers = { ...questions };
    judgeReply = 'Score: 9';
    seenKeys.clear();
    const first = await quality.evaluate(alice, 'legal-answerer', {
      dataset: DATASET,
      judge: 'legal-judge',
      every: '1h',
    });
    expect(first).toMatchObject({ version: 1, samples: 2, failed: 0, exactMatch: 1, f1: 1, judgeScore: 0.9 });
    // Each request carried one of the run's internal keys, all revoked since.
    const keys = await platform.store.db.selectFrom('endpoint_keys').selectAll().execute();
    expect(keys.map((key) => [key.name, key.created_by, key.revoked_at !== null])).toEqual([
      ['aicloud-eval', 'system', true],
      ['aicloud-eval', 'system', true],
    ]);
    expect([...seenKeys].sort()).toEqual(keys.map((key) => key.id).sort());

    // Version 2: one answer wrong, one missing (the gateway fails it); the judge's reply holds no grade.
    await platform.store.db
      .updateTable('endpoints')
      .set({ version: 2 })
      .where('id', '=', 'ep_answer')
      .execute();
    answers = { 'What settles disputes out of court?': 'mediation' };
    judgeReply = 'a decent answer';
    now += 60_000;
    const second = await quality.evaluate(alice, 'legal-answerer', {
      dataset: DATASET,
      judge: 'legal-judge',
    });
    expect(second).toMatchObject({ version: 2, failed: 1, exactMatch: 0, f1: 0 });
    // The unanswered prompt scores 0 for the judge too; the ungraded one counts for nothing.
    expect(second.judgeScore).toBe(0);

    const listed = await quality.list(alice, 'legal-answerer');
    expect(listed.items.map((item) => [item.version, item.f1])).toEqual([
      [2, 0],
      [1, 1],
    ]);
    expect(await quality.latestScores()).toEqual([
      { endpoint: 'legal-answerer', version: 2, metric: 'exact_match', value: 0 },
      { endpoint: 'legal-answerer', version: 2, metric: 'f1', value: 0 },
      { endpoint: 'legal-answerer', version: 2, metric: 'judge', value: 0 },
    ]);

    // The schedule (every 1h from the first run) was replaced by the second run's (none): nothing is due.
    now += 2 * 3600_000;
    expect(await quality.tick()).toBe(0);
    await quality.evaluate(alice, 'legal-answerer', { dataset: DATASET, every: '1h' });
    now += 3600_000;
    answers = { ...questions };
    expect(await quality.tick()).toBe(1);
    const after = await quality.list(alice, 'legal-answerer');
    expect(after.items[0]).toMatchObject({ trigger: 'schedule', createdBy: 'system', f1: 1 });
    expect(Date.parse(after.schedule!.nextRunAt!)).toBe(now + 3600_000);

    const audit = await platform.audit.list(
      { action: 'endpoint.evaluated', limit: 10 },
      { all: true, teams: [], actor: '' },
    );
    expect(audit.length).toBe(4);
  });

  it("refuses another team's endpoint as absent, and a dataset that is not the team's", async () => {
    const quality = createQualityService({
      store: platform.store,
      audit: platform.audit,
      clock,
      apiUrl: () => url,
    });
    await expect(quality.evaluate(carol, 'legal-answerer', { dataset: DATASET })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(quality.list(carol, 'legal-answerer')).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      quality.evaluate(alice, 'legal-answerer', { dataset: 'projects/search/datasets/other' }),
    ).rejects.toMatchObject({ code: 'invalid_input' });
  });
});
