import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndpointStats } from '@aicloud/contracts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAlertRules } from '../alerts/alert-rules.ts';
import { parseExposition } from '../alerts/exposition.ts';
import type { Actor } from '../identity/principal.ts';
import { OpenAIError } from '../serving/openai-error.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { seededRandom, trainTinyModel } from '../testing/tiny-model.ts';
import { createObservability } from './observability.ts';

/**
 * Embedding drift end to end: a real platform serves the example model (aicloud-tiny, whose embeddings are
 * the mean of its token embeddings) on an embeddings endpoint and a chat endpoint, generated requests go
 * through the gateway over HTTP, and the prompts of the embeddings traffic move to another vocabulary.
 */
const pgUrl = inject('pgUrl');

const work = mkdtempSync(join(tmpdir(), 'aicloud-embedding-drift-'));

beforeAll(() => {
  // A small real model: the example fine-tune, trained for a few steps (its embeddings need no quality).
  trainTinyModel(work, 5);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(storeTargets(pgUrl))('embedding drift through the gateway on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;
  let gateway: Server;
  let url: string;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: { 'legal-rag': [work] } });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    alice = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: 'req_e' };
    await platform.models.register(alice, { name: 'legal-answerer', source: `path:${join(work, 'model')}` });
    for (const name of ['legal-embedder', 'legal-chat']) {
      await platform.endpoints.deploy(alice, {
        model: 'legal-answerer',
        version: 1,
        name,
        scaleToZero: true,
      });
      keys[name] = (await platform.endpoints.createKey(alice, { endpoint: name, name: 'drift' })).key;
    }
    // The OpenAI routes as apps/server serves them: the body to the gateway, its refusals as OpenAI errors.
    gateway = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const operation = request.url === '/v1/embeddings' ? 'embeddings' : 'chat';
      try {
        await platform.gateway.handle(
          operation,
          request.headers.authorization,
          JSON.parse(Buffer.concat(chunks).toString('utf8')),
          response,
          `req_${Math.random().toString(36).slice(2)}`,
        );
      } catch (error) {
        const status = error instanceof OpenAIError ? error.status : 500;
        const body = error instanceof OpenAIError ? error.body() : { error: String(error) };
        if (!response.headersSent) response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      }
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    await new Promise((resolve) => gateway?.close(resolve));
    if (!platform) return;
    for (const name of ['legal-embedder', 'legal-chat'])
      await platform.endpoints.delete(alice, name).catch(() => {});
    await platform.dispose();
  });

  /** Sends `count` requests, four at a time; every one must succeed. */
  async function send(count: number, path: string, endpoint: string, body: (n: number) => object) {
    let sent = 0;
    const worker = async () => {
      while (sent < count) {
        const n = sent++;
        const response = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys[endpoint]}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: endpoint, ...body(n) }),
        });
        const answer = (await response.json()) as { data?: { embedding: unknown }[] };
        if (response.status !== 200) throw new Error(`${path} ${response.status}: ${JSON.stringify(answer)}`);
        if (path === '/v1/embeddings') expect(answer.data![0]!.embedding).toBeDefined();
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  it('scores the distance of the embeddings to the baseline centroid, and only on the embeddings endpoint', async () => {
    const observability = createObservability(platform, {
      rules: parseAlertRules(
        'rules:\n  - { name: embedding_drift, kind: drift, above: 0.25, feature: embedding_centroid_distance }\n',
        'alerts/embedding.yaml',
      ),
    });
    // Two vocabularies of the model's own words: questions from the first, then from the second.
    const vocabulary = (
      JSON.parse(readFileSync(join(work, 'model/tokenizer.json'), 'utf8')) as { vocab: string[] }
    ).vocab.filter((word) => /^[a-z]{3,}$/.test(word));
    const contracts = vocabulary.slice(0, 16);
    const privacy = vocabulary.slice(-16);
    const next = seededRandom(17);
    const prompt = (words: string[]) =>
      Array.from({ length: 3 + Math.floor(next() * 6) }, () => words[Math.floor(next() * words.length)]).join(
        ' ',
      );
    const embed =
      (words: string[], format: 'float' | 'base64' = 'float') =>
      () => ({
        input: prompt(words),
        encoding_format: format,
      });
    const embedder = await platform.endpoints.get(alice, 'legal-embedder');
    const chat = await platform.endpoints.get(alice, 'legal-chat');
    const stats = (id: string) => platform.replicas.stats(id).snapshot().drift;
    const scrape = async () =>
      parseExposition(await observability.metricsText()).filter(
        (sample) => sample.name.startsWith('aicloud_endpoint_drift_') && sample.labels.feature,
      );

    // The baseline in base64 answers (the OpenAI SDKs' default), the window on the same vocabulary in float
    // ones: both are read, and agree.
    await send(500, '/v1/embeddings', 'legal-embedder', embed(contracts, 'base64'));
    await send(500, '/v1/embeddings', 'legal-embedder', embed(contracts));
    const steady = stats(embedder.id).features.embedding_centroid_distance!;
    expect(steady.psi).toBeLessThan(0.1);
    expect((await observability.alerts.evaluate()).map((event) => event.rule)).toEqual([]);

    // The questions move to the other vocabulary: their embeddings point elsewhere.
    await send(500, '/v1/embeddings', 'legal-embedder', embed(privacy));
    const drift = stats(embedder.id);
    const shifted = drift.features.embedding_centroid_distance!;
    expect(drift.status).toBe('shifted');
    expect(shifted.psi).toBeGreaterThan(0.25);
    expect(shifted.ks).toBeGreaterThan(0.5);
    console.info(
      `${target}: embedding_centroid_distance steady PSI ${steady.psi} KS ${steady.ks}; shifted PSI ${shifted.psi} KS ${shifted.ks} (p ${shifted.ksPValue})`,
    );

    // A chat endpoint beside it, with a full baseline and window: the scalar features, no embedding one.
    await send(1000, '/v1/chat/completions', 'legal-chat', () => ({
      messages: [{ role: 'user', content: prompt(contracts) }],
      max_tokens: 2,
    }));
    expect(Object.keys(stats(chat.id).features).sort()).toEqual([
      'completion_tokens',
      'empty_answer',
      'latency_ms',
      'prompt_tokens',
    ]);

    // /metrics: the same gauges with the new feature label, the numbers the endpoint shows.
    const samples = await scrape();
    const value = (name: string, endpoint: string, feature: string) =>
      samples.find(
        (sample) =>
          sample.name === name && sample.labels.endpoint === endpoint && sample.labels.feature === feature,
      )?.value;
    expect(value('aicloud_endpoint_drift_psi', 'legal-embedder', 'embedding_centroid_distance')).toBe(
      shifted.psi,
    );
    expect(value('aicloud_endpoint_drift_ks', 'legal-embedder', 'embedding_centroid_distance')).toBe(
      shifted.ks,
    );
    expect(
      samples.filter((sample) => sample.labels.endpoint === 'legal-chat').map((s) => s.labels.feature),
    ).not.toContain('embedding_centroid_distance');
    expect(samples.filter((sample) => sample.labels.endpoint === 'legal-chat')).toHaveLength(8);

    // GET /v1/endpoints/:name's stats, through the contract; a drift rule on the feature fires for it alone.
    const shown = await platform.endpoints.get(alice, 'legal-embedder');
    expect(EndpointStats.parse(shown.stats).drift.features.embedding_centroid_distance).toEqual(shifted);
    const events = await observability.alerts.evaluate();
    expect(events.map((event) => [event.rule, event.state, event.labels])).toEqual([
      [
        'embedding_drift',
        'firing',
        { endpoint: 'legal-embedder', feature: 'embedding_centroid_distance', team: 'legal-rag' },
      ],
    ]);

    // A new version resets the baseline: the embedding series go with the others.
    platform.replicas.stats(embedder.id).drift.reset();
    expect((await scrape()).filter((sample) => sample.labels.endpoint === 'legal-embedder')).toEqual([]);
  }, 240_000);
});
