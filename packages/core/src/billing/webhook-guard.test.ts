import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Clock } from '../clock.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { checkBudgetAlerts } from './budget-alerts.ts';
import { createWebhookQueue, type WebhookOutcome } from './budget-webhook.ts';
import { appendUsage } from './ledger.ts';
import { webhookUrlRefusal } from './webhook-guard.ts';

/**
 * Budget webhooks go only where the platform allows. Every request these tests let through goes to a
 * server they start on 127.0.0.1 (allowed explicitly); refused URLs are checked without sending anything:
 * where a refusal is asserted, the queue's transport only records what it would have sent.
 */

const METADATA_AND_LINK_LOCAL = [
  'http://169.254.169.254/latest/meta-data/',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://[fe80::1]/hook',
  'http://169.254.10.20/hook',
  'http://[::ffff:169.254.169.254]/latest/meta-data/',
  'http://[64:ff9b::a9fe:a9fe]/latest/meta-data/',
];

let server: Server;
let port: number;
const received: { path: string; method: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      received.push({ path: request.url ?? '', method: request.method ?? '', body });
      if (request.url === '/redirect') {
        response.writeHead(302, { location: `http://127.0.0.1:${port}/redirected` });
        response.end();
        return;
      }
      response.writeHead(204);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A queue whose transport records instead of sending: for URLs that must be refused. */
function recordingQueue(allowedHosts: string[]) {
  const sent: string[] = [];
  const queue = createWebhookQueue({
    allowedHosts,
    tries: 1,
    fetch: async (url) => {
      sent.push(String(url));
      return new Response(null, { status: 204 });
    },
  });
  return { queue, sent };
}

function outcomeOf(queue: ReturnType<typeof createWebhookQueue>, url: string): Promise<WebhookOutcome> {
  return new Promise((resolve) => queue.enqueue(url, { type: 'budget.alert' }, resolve));
}

describe('budget webhook targets', () => {
  it('refuses link-local and metadata addresses even when listed, and sends nothing there', async () => {
    const listed = [
      'metadata.google.internal',
      '169.254.0.0/16',
      'fd00:ec2::254',
      'fe80::/10',
      '::ffff:0:0/96',
      '64:ff9b::/96',
    ];
    const { queue, sent } = recordingQueue(listed);
    for (const url of METADATA_AND_LINK_LOCAL) {
      expect(webhookUrlRefusal(url, { allowedHosts: listed }), url).toMatch(/metadata|link-local/);
      expect(await outcomeOf(queue, url), url).toBe('refused');
    }
    expect(sent).toEqual([]);
  });

  it('refuses hosts not on the allow-list (none when it is empty), and loopback or private ones not listed as addresses', async () => {
    const cases: [string, string[]][] = [
      ['https://hooks.example.com/budget', []],
      ['https://hooks.example.com/budget', ['other.example.com']],
      ['https://evilexample.com/budget', ['*.example.com']],
      [`http://127.0.0.1:${port}/hook`, []],
      [`http://127.0.0.1:${port}/hook`, ['localhost']],
      [`http://2130706433:${port}/hook`, ['10.0.0.0/8']],
      ['http://10.1.2.3/hook', ['hooks.example.com']],
      ['http://192.168.1.5/hook', ['192.168.1.6']],
      ['http://[::1]/hook', ['127.0.0.1']],
      ['ftp://hooks.example.com/budget', ['hooks.example.com']],
    ];
    for (const [url, allowedHosts] of cases) {
      const { queue, sent } = recordingQueue(allowedHosts);
      expect(webhookUrlRefusal(url, { allowedHosts }), `${url} ${allowedHosts}`).not.toBeNull();
      expect(await outcomeOf(queue, url), `${url} ${allowedHosts}`).toBe('refused');
      expect(sent).toEqual([]);
    }
    expect(
      webhookUrlRefusal('https://a.hooks.example.com/x', { allowedHosts: ['*.example.com'] }),
    ).toBeNull();
    expect(webhookUrlRefusal('http://10.1.2.3/hook', { allowedHosts: ['10.0.0.0/8'] })).toBeNull();
  });

  it('POSTs to an explicitly allowed 127.0.0.1 and never follows a redirect', async () => {
    received.length = 0;
    const queue = createWebhookQueue({ allowedHosts: ['127.0.0.1'], tries: 1 });
    expect(await outcomeOf(queue, `http://127.0.0.1:${port}/hook`)).toBe('delivered');
    expect(received).toEqual([{ path: '/hook', method: 'POST', body: '{"type":"budget.alert"}' }]);
    received.length = 0;
    expect(await outcomeOf(queue, `http://127.0.0.1:${port}/redirect`)).toBe('failed');
    expect(received.map((request) => request.path)).toEqual(['/redirect']);
  });

  it('checks every address the host resolves to when sending, and connects only to those it checked', async () => {
    received.length = 0;
    const answers: string[][] = [['127.0.0.1'], ['127.0.0.1', '169.254.169.254'], ['169.254.169.254']];
    const asked: string[] = [];
    const queue = createWebhookQueue({
      allowedHosts: ['localhost', '127.0.0.1'],
      tries: 1,
      resolve: async (host) => {
        asked.push(host);
        return (answers.shift() ?? []).map((address) => ({ address, family: 4 }));
      },
    });
    const url = `http://localhost:${port}/hook`;
    // The name resolves to an allowed address: sent there.
    expect(await outcomeOf(queue, url)).toBe('delivered');
    // Then (DNS rebinding) to a metadata address too, then only to it: refused, nothing sent.
    expect(await outcomeOf(queue, url)).toBe('refused');
    expect(await outcomeOf(queue, url)).toBe('refused');
    expect(asked).toEqual(['localhost', 'localhost', 'localhost']);
    expect(received.map((request) => request.path)).toEqual(['/hook']);
    // A listed name that resolves to loopback, with no address entry for it: refused before connecting.
    const loopbackByName = createWebhookQueue({ allowedHosts: ['localhost'], tries: 1 });
    expect(await outcomeOf(loopbackByName, url)).toBe('refused');
    expect(received.map((request) => request.path)).toEqual(['/hook']);
  });
});

const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('budget alerts with a refused webhook on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  afterEach(async () => platform?.dispose());

  it('record the alert, refuse the webhook and send nothing', async () => {
    let now = Date.parse('2026-11-11T00:00:00.000Z');
    const clock: Clock = { now: () => now };
    platform = await createTestPlatform(target, pgUrl, { clock });
    await platform.store.db
      .insertInto('settings')
      .values({
        key: 'budget_webhook_url',
        value: JSON.stringify('http://169.254.169.254/latest/meta-data/'),
      })
      .execute();
    await platform.store.db.transaction().execute((trx) =>
      appendUsage(trx, clock, [
        {
          team: 'legal-rag',
          user: 'alice',
          project: 'legal-ft',
          category: 'training',
          resource: 'gpu:A100',
          quantity: 160,
          unit: 'gpu_hour',
          rateMicros: 1_000_000,
          sourceKind: 'job',
          sourceId: 'job_a',
          windowStart: new Date(now - 60_000).toISOString(),
          windowEnd: new Date(now).toISOString(),
        },
      ]),
    );
    now += 1000;
    const { queue, sent } = recordingQueue(['169.254.169.254']);
    const fired = await checkBudgetAlerts({
      store: platform.store,
      audit: platform.audit,
      clock,
      webhooks: queue,
      webhookAllowedHosts: ['169.254.169.254'],
    });
    expect(fired.map((alert) => alert.threshold)).toEqual(['50']);
    await queue.drain();
    expect(sent).toEqual([]);
    const row = await platform.store.db
      .selectFrom('budget_alerts')
      .select('delivery')
      .where('team', '=', 'legal-rag')
      .executeTakeFirstOrThrow();
    expect(row.delivery).toBe('refused');
  });
});
