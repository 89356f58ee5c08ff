import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@aicloud/client';
import { jobPaths } from '@aicloud/core';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/repo-paths.ts';
import { type RunningServer, startServer } from '../src/start-server.ts';
import { trainTinyModel } from './tiny-model.ts';

// The gateway's GenAI telemetry against the OpenTelemetry GenAI semantic conventions: the example model
// server behind it, a runtime whose first content token comes 300 ms after its role chunk, and a small
// OTLP/HTTP receiver on loopback that records what `--otlp-endpoint` exports.

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string };
}
interface OtlpMetric {
  name: string;
  unit?: string;
  histogram?: { dataPoints: { attributes: OtlpAttribute[]; count: number | string }[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: OtlpAttribute[];
}

let receiver: Server;
const exported = { metrics: [] as OtlpMetric[], spans: [] as OtlpSpan[] };
let server: RunningServer;
let alice: Client;
let admin: string;
let aliceToken: string;
let key: string;
let work: string;
const fixtures = join(import.meta.dirname, 'fixtures');

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let text = '';
    request.on('data', (data) => {
      text += data;
    });
    request.on('end', () => {
      const body = JSON.parse(text);
      if (request.url === '/v1/metrics')
        for (const resource of body.resourceMetrics ?? [])
          for (const scope of resource.scopeMetrics ?? []) exported.metrics.push(...scope.metrics);
      if (request.url === '/v1/traces')
        for (const resource of body.resourceSpans ?? [])
          for (const scope of resource.scopeSpans ?? []) exported.spans.push(...scope.spans);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address() as { port: number };

  work = mkdtempSync(join(tmpdir(), 'aicloud-genai-telemetry-'));
  trainTinyModel(work, 60);
  const slowModel = join(work, 'slow-model');
  mkdirSync(slowModel);
  writeFileSync(join(slowModel, 'config.json'), '{"runtime":"slow-first-token"}');
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(work, 'data'),
    seedFile: join(repoRoot, 'seed/demo.yaml'),
    webRoot: null,
    importRoots: { 'legal-rag': [work] },
    sandboxReadOnly: [fixtures],
    tickIntervalMs: 250,
    meterIntervalMs: 500,
    alertsDir: null,
    telemetry: { otlpEndpoint: `http://127.0.0.1:${address.port}`, exportIntervalMs: 300 },
    runtimes: {
      'slow-first-token': {
        name: 'slow-first-token',
        command: `exec ${process.execPath} ${join(fixtures, 'slow-first-token.mjs')} --socket {socket}`,
        runsHere: true,
        healthPath: '/health',
      },
    },
  });
  const tokens = JSON.parse(readFileSync(join(work, 'data/credentials.json'), 'utf8'));
  admin = tokens.admin.token;
  aliceToken = tokens.alice.token;
  alice = createClient({ url: server.url, token: aliceToken });
  await alice.models.register({ name: 'legal-answerer', source: `path:${join(work, 'model')}` });
  await alice.endpoints.deploy({ model: 'legal-answerer', version: 1, minReplicas: 1 });
  await alice.models.register({
    name: 'slow-first',
    source: `path:${slowModel}`,
    runtime: 'slow-first-token',
  });
  await alice.endpoints.deploy({ model: 'slow-first', version: 1, minReplicas: 1 });
  key = (await alice.keys.create({ endpoint: 'legal-answerer', name: 'telemetry' })).key;
}, 180_000);
afterAll(async () => {
  await alice?.endpoints.delete('legal-answerer').catch(() => {});
  await alice?.endpoints.delete('slow-first').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await server?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function chat(body: Record<string, unknown>, apiKey = key) {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What is arbitration?' }], ...body }),
  });
  return { status: response.status, body: await response.text() };
}

async function metricsText(): Promise<string> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
  expect(response.status).toBe(200);
  return response.text();
}

/** The samples of one metric series family whose labels include all of `labels`. */
function samples(
  text: string,
  name: string,
  labels: Record<string, string>,
): { labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => {
      const close = line.lastIndexOf('}');
      return { labels: line.slice(name.length + 1, close), value: Number(line.slice(close + 2)) };
    })
    .filter((sample) =>
      Object.entries(labels).every(([label, value]) => sample.labels.includes(`${label}="${value}"`)),
    );
}

const count = (text: string, name: string, labels: Record<string, string>) =>
  samples(text, `${name}_count`, labels).reduce((sum, sample) => sum + sample.value, 0);

const attributesOf = (attributes: OtlpAttribute[]) =>
  Object.fromEntries(
    attributes.map((entry) => [entry.key, entry.value.stringValue ?? Number(entry.value.intValue)]),
  );

describe('GenAI telemetry of the gateway', () => {
  it('counts refused requests with the client’s error code, and a model server’s 400 is not upstream_error', async () => {
    expect((await chat({ model: 'legal-answerer' }, 'sk-not-a-key')).status).toBe(401);
    expect((await chat({ model: 'no-such-model' })).status).toBe(404);
    const quota = (
      await alice.keys.create({
        endpoint: 'legal-answerer',
        name: 'tiny-quota',
        maxTokensPerPeriod: 5,
        period: '30d',
      })
    ).key;
    expect((await chat({ model: 'legal-answerer', max_tokens: 10 }, quota)).status).toBe(429);
    // Valid for the gateway, refused by the model server: a client's mistake, with the server's code.
    const refused = await chat({ model: 'legal-answerer', n: 20 });
    expect(refused.status).toBe(400);
    const code = JSON.parse(refused.body).error.code as string;
    expect(code).toMatch(/^[a-z_]+$/);

    const text = await metricsText();
    const duration = 'gen_ai_server_request_duration';
    expect(count(text, duration, { error_type: 'invalid_api_key' })).toBe(1);
    expect(count(text, duration, { error_type: 'model_not_found' })).toBe(1);
    // The asked-for model of an unknown name is not a label (a client could invent any number of them).
    expect(samples(text, `${duration}_count`, { error_type: 'model_not_found' })[0]!.labels).not.toContain(
      'gen_ai_request_model',
    );
    expect(
      count(text, duration, { error_type: 'insufficient_quota', gen_ai_request_model: 'legal-answerer' }),
    ).toBe(1);
    expect(count(text, duration, { error_type: code, gen_ai_request_model: 'legal-answerer' })).toBe(1);
    expect(count(text, 'gen_ai_client_operation_duration', { error_type: code })).toBe(1);
    expect(text).not.toContain('error_type="upstream_error"');
    for (const refusal of ['invalid_api_key', 'model_not_found', 'insufficient_quota', code])
      expect(samples(text, `${duration}_count`, { error_type: refusal })[0]!.labels).toContain(
        'gen_ai_operation_name="chat",gen_ai_provider_name="aicloud"',
      );
  });

  it('records duration, token usage, response model and the server address of an answered request', async () => {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 });
    const answer = await openai.chat.completions.create({
      model: 'legal-answerer',
      messages: [{ role: 'user', content: 'What is arbitration?' }],
      max_tokens: 8,
    });
    const port = new URL(server.url).port;
    const labels = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'aicloud',
      gen_ai_request_model: 'legal-answerer',
      gen_ai_response_model: answer.model,
      server_address: '127.0.0.1',
      server_port: port,
    };
    const text = await metricsText();
    const ok = samples(text, 'gen_ai_server_request_duration_count', labels).filter(
      (sample) => !sample.labels.includes('error_type'),
    );
    expect(ok.map((sample) => sample.value)).toEqual([1]);
    expect(count(text, 'gen_ai_client_operation_duration', labels)).toBeGreaterThanOrEqual(1);
    const usage = (type: string) =>
      samples(text, 'gen_ai_client_token_usage_sum', { ...labels, gen_ai_token_type: type })[0]?.value;
    expect(usage('input')).toBe(answer.usage!.prompt_tokens);
    expect(usage('output')).toBe(answer.usage!.completion_tokens);
    // Buckets as the conventions give them.
    const bounds = (name: string) =>
      samples(text, `${name}_bucket`, { gen_ai_request_model: 'legal-answerer' })
        .map((sample) => /le="([^"]+)"/.exec(sample.labels)![1])
        .filter((le, index, all) => all.indexOf(le) === index);
    expect(bounds('gen_ai_server_request_duration')).toEqual(
      [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, '+Inf'].map(
        String,
      ),
    );
    expect(bounds('gen_ai_client_token_usage')).toEqual(
      [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, '+Inf'].map(
        String,
      ),
    );
    const checked = await new Promise<{ code: number; output: string }>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
      child.stdin?.end(text);
    });
    expect(checked.output).toBe('');
    expect(checked.code).toBe(0);
  });

  it('measures time to first token to the first content token, after the role chunk, and time per output token', async () => {
    const slowKey = (await alice.keys.create({ endpoint: 'slow-first', name: 'stream' })).key;
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: slowKey, maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: 'slow-first',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const event of stream) text += event.choices[0]?.delta.content ?? '';
    expect(text).toBe('one two three four five');
    const metrics = await metricsText();
    const labels = { gen_ai_request_model: 'slow-first', gen_ai_response_model: 'slow-first-token-v1' };
    expect(count(metrics, 'gen_ai_server_time_to_first_token', labels)).toBe(1);
    const ttft = samples(metrics, 'gen_ai_server_time_to_first_token_sum', labels)[0]!.value;
    // The role chunk came at once; the first content 300 ms later.
    expect(ttft).toBeGreaterThanOrEqual(0.29);
    expect(ttft).toBeLessThan(5);
    const tpot = samples(metrics, 'gen_ai_server_time_per_output_token_sum', labels)[0]!.value;
    // Five tokens 20 ms apart: four gaps after the first.
    expect(tpot).toBeGreaterThanOrEqual(0.015);
    expect(tpot).toBeLessThan(0.3);
    expect(
      samples(metrics, 'gen_ai_server_time_to_first_token_bucket', labels).map(
        (sample) => /le="([^"]+)"/.exec(sample.labels)![1],
      ),
    ).toEqual(
      [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, '+Inf'].map(
        String,
      ),
    );
    expect(
      samples(metrics, 'gen_ai_server_time_per_output_token_bucket', labels).map(
        (sample) => /le="([^"]+)"/.exec(sample.labels)![1],
      ),
    ).toEqual([0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, '+Inf'].map(String));
  });

  it('exports the GenAI metrics and spans over OTLP/HTTP, and a job gets its submission’s TRACEPARENT', async () => {
    const { job } = await alice.jobs.submit({
      product: 'batch-inference',
      maxRuntime: '5m',
      name: 'traced',
      command: 'echo "traceparent=$TRACEPARENT"',
    });
    const deadline = Date.now() + 60_000;
    let current = await alice.jobs.get(job!.id);
    while (['admitted', 'queued', 'running'].includes(current.status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      current = await alice.jobs.get(job!.id);
    }
    const log = readFileSync(jobPaths(join(work, 'data'), job!.id).logFile, 'utf8');
    expect(current.status, log).toBe('succeeded');
    const traceparent = /traceparent=(00-[0-9a-f]{32}-[0-9a-f]{16}-01)/.exec(log)?.[1];
    expect(traceparent, log).toBeDefined();

    const hex = (id: string) => (/^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex'));
    const names = [
      'gen_ai.server.request.duration',
      'gen_ai.client.operation.duration',
      'gen_ai.client.token.usage',
      'gen_ai.server.time_to_first_token',
      'gen_ai.server.time_per_output_token',
    ];
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const seen = new Set(exported.metrics.map((metric) => metric.name));
      const submitted = exported.spans.some((span) => span.name === 'job.submit');
      const ran = exported.spans.some((span) => span.name === 'job.run');
      if (names.every((name) => seen.has(name)) && submitted && ran) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const duration = exported.metrics.findLast((metric) => metric.name === 'gen_ai.server.request.duration')!;
    expect(duration.unit).toBe('s');
    const points = duration.histogram!.dataPoints.map((point) => attributesOf(point.attributes));
    expect(points).toContainEqual(
      expect.objectContaining({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'aicloud',
        'gen_ai.request.model': 'legal-answerer',
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(server.url).port),
      }),
    );
    expect(points).toContainEqual(expect.objectContaining({ 'error.type': 'invalid_api_key' }));
    const usage = exported.metrics.findLast((metric) => metric.name === 'gen_ai.client.token.usage')!;
    expect(usage.unit).toBe('{token}');
    expect(
      usage.histogram!.dataPoints.map((point) => attributesOf(point.attributes)['gen_ai.token.type']),
    ).toEqual(expect.arrayContaining(['input', 'output']));

    const chatSpan = exported.spans.find(
      (span) =>
        span.name === 'chat legal-answerer' &&
        Number(attributesOf(span.attributes)['gen_ai.usage.output_tokens']) > 0,
    )!;
    expect(attributesOf(chatSpan.attributes)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'aicloud',
      'gen_ai.request.model': 'legal-answerer',
      'gen_ai.response.model': 'legal-answerer',
    });
    expect(attributesOf(chatSpan.attributes)['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    const submit = exported.spans.find(
      (span) => span.name === 'job.submit' && attributesOf(span.attributes)['aicloud.job.id'] === job!.id,
    )!;
    expect(submit).toBeDefined();
    expect(traceparent).toBe(`00-${hex(submit.traceId)}-${hex(submit.spanId)}-01`);
    // The job's life is one span in the same trace, a child of its submission, timed from start to end.
    const run = exported.spans.find(
      (span) => span.name === 'job.run' && attributesOf(span.attributes)['aicloud.job.id'] === job!.id,
    )!;
    expect(run, JSON.stringify(exported.spans.map((span) => span.name))).toBeDefined();
    expect(hex(run.traceId)).toBe(hex(submit.traceId));
    expect(hex(run.parentSpanId!)).toBe(hex(submit.spanId));
    expect(attributesOf(run.attributes)).toMatchObject({
      'aicloud.job.status': 'succeeded',
      'aicloud.team': 'legal-rag',
      'process.exit.code': 0,
    });
    expect(attributesOf(run.attributes)['error.type']).toBeUndefined();
  });

  it('traces a pipeline: one pipeline.run, a pipeline.step per step under it, each step’s job under its step', async () => {
    const created = await alice.pipelines.create({
      name: 'traced-pipeline',
      steps: [
        { name: 'prep', product: 'batch-inference', command: 'echo "traceparent=$TRACEPARENT"' },
        {
          name: 'train',
          product: 'batch-inference',
          command: 'echo "traceparent=$TRACEPARENT"',
          dependsOn: ['prep'],
        },
      ],
    });
    const deadline = Date.now() + 90_000;
    let pipeline = created;
    while (pipeline.status === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      pipeline = await alice.pipelines.get(created.id);
    }
    expect(pipeline.status, JSON.stringify(pipeline.steps)).toBe('succeeded');
    const hex = (id: string) => (/^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex'));
    const named = (name: string, key: string, value: string) =>
      exported.spans.find((span) => span.name === name && attributesOf(span.attributes)[key] === value);
    const until = Date.now() + 15_000;
    while (!named('pipeline.run', 'aicloud.pipeline.id', pipeline.id) && Date.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 200));
    const run = named('pipeline.run', 'aicloud.pipeline.id', pipeline.id)!;
    expect(run, JSON.stringify(exported.spans.map((span) => span.name))).toBeDefined();
    expect(run.parentSpanId ?? '').toBe('');
    expect(attributesOf(run.attributes)).toMatchObject({
      'aicloud.pipeline.name': 'traced-pipeline',
      'aicloud.team': 'legal-rag',
      'aicloud.pipeline.steps': 2,
      'aicloud.pipeline.status': 'succeeded',
    });
    for (const step of pipeline.steps) {
      const stepSpan = exported.spans.find(
        (span) =>
          span.name === 'pipeline.step' &&
          attributesOf(span.attributes)['aicloud.pipeline.id'] === pipeline.id &&
          attributesOf(span.attributes)['aicloud.pipeline.step'] === step.name,
      )!;
      expect(stepSpan, step.name).toBeDefined();
      expect(hex(stepSpan.traceId)).toBe(hex(run.traceId));
      expect(hex(stepSpan.parentSpanId!)).toBe(hex(run.spanId));
      expect(attributesOf(stepSpan.attributes)).toMatchObject({
        'aicloud.job.id': step.jobId,
        'aicloud.pipeline.attempt': 1,
        'aicloud.pipeline.status': 'succeeded',
      });
      // The step's job: its submission under the step's span, its TRACEPARENT that submission's.
      const submit = named('job.submit', 'aicloud.job.id', step.jobId!)!;
      expect(hex(submit.traceId)).toBe(hex(run.traceId));
      expect(hex(submit.parentSpanId!)).toBe(hex(stepSpan.spanId));
      const log = readFileSync(jobPaths(join(work, 'data'), step.jobId!).logFile, 'utf8');
      expect(log).toContain(`traceparent=00-${hex(submit.traceId)}-${hex(submit.spanId)}-01`);
    }
  });

  it('a job submitted with a traceparent header continues the caller’s trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const answer = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${aliceToken}`,
        'content-type': 'application/json',
        traceparent: `00-${traceId}-${callerSpan}-01`,
      },
      body: JSON.stringify({ product: 'batch-inference', name: 'caller-traced', command: 'true' }),
    });
    expect(answer.status).toBe(201);
    const { job } = (await answer.json()) as { job: { id: string } };
    const hex = (id: string) => (/^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex'));
    const until = Date.now() + 15_000;
    const find = () =>
      exported.spans.find(
        (span) => span.name === 'job.submit' && attributesOf(span.attributes)['aicloud.job.id'] === job.id,
      );
    while (!find() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
    const submit = find()!;
    expect(submit).toBeDefined();
    expect(hex(submit.traceId)).toBe(traceId);
    expect(hex(submit.parentSpanId!)).toBe(callerSpan);
  });
});
