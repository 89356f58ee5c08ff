import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deadlinesOf, type NotebookRow, toNotebook, warningLeadMs } from './notebook-record.ts';
import { createNotebookSessions } from './notebook-sessions.ts';

const start = Date.parse('2026-01-01T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function row(overrides: Partial<NotebookRow> = {}): NotebookRow {
  return {
    id: 'nb_0123456789abcdef',
    name: 'n',
    team: 'legal-rag',
    owner: 'alice',
    product: 'notebook-gpu',
    gpus: 1,
    gpu_type: 'A100',
    gpu_indexes: '[0]',
    egress: 'blocked',
    status: 'running',
    host: '10.231.0.2',
    port: 8888,
    token_sealed: 'sealed',
    netns: 'aic-0123456789',
    work_dir: '/data/notebooks/nb_0123456789abcdef/files',
    rate_micros: 3_670_000,
    estimate_micros: 44_040_000,
    created_at: iso(start),
    started_at: iso(start),
    last_activity_at: iso(start),
    idle_timeout_s: 3600,
    max_lifetime_s: 12 * 3600,
    warned_at: null,
    warning: null,
    snoozed_until: null,
    stopped_at: null,
    stop_reason: null,
    stop_message: null,
    metered_until: iso(start),
    cost_micros: 0,
    external_id: '1:2',
    ...overrides,
  };
}

describe('notebook deadlines', () => {
  it('warns 10 minutes before an hour-long idle stop, and a sixth of short timeouts before', () => {
    expect(warningLeadMs(3600)).toBe(600_000);
    expect(warningLeadMs(20)).toBeCloseTo(3333.33, 1);
    const deadlines = deadlinesOf(row());
    expect(deadlines).toMatchObject({ kind: 'idle', stopAt: start + 3_600_000, warnAt: start + 3_000_000 });
  });

  it('moves with the latest activity and a snooze, and never passes the max lifetime', () => {
    expect(deadlinesOf(row(), start + 60_000).stopAt).toBe(start + 3_660_000);
    const snoozed = deadlinesOf(row({ snoozed_until: iso(start + 2 * 3_600_000) }));
    expect(snoozed.stopAt).toBe(start + 7_200_000);
    const late = deadlinesOf(row({ last_activity_at: iso(start + 11.5 * 3_600_000) }));
    expect(late).toMatchObject({ kind: 'max_lifetime', stopAt: start + 12 * 3_600_000 });
    expect(late.warnAt).toBe(start + 12 * 3_600_000 - 600_000);
  });

  it('shows deadlines, warning and cost, never the token', () => {
    const notebook = toNotebook(
      row({ warned_at: iso(start + 3_000_000), warning: 'idle', cost_micros: 1_835_000 }),
    );
    expect(notebook).toMatchObject({
      idleDeadline: iso(start + 3_600_000),
      maxLifetimeAt: iso(start + 12 * 3_600_000),
      warning: { kind: 'idle', stopsAt: iso(start + 3_600_000) },
      pricePerHour: 3.67,
      cost: 1.835,
      path: '/notebooks/nb_0123456789abcdef/',
    });
    expect(JSON.stringify(notebook)).not.toContain('sealed');
    expect(toNotebook(row({ status: 'stopped', warned_at: iso(start) })).warning).toBeNull();
  });
});

describe('notebook sessions', () => {
  it('redeems a ticket once, for its notebook only, and signs cookies per notebook', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nb-sessions-'));
    try {
      const sessions = createNotebookSessions(join(dir, 'notebooks', 'session.key'));
      expect(statSync(join(dir, 'notebooks', 'session.key')).mode & 0o777).toBe(0o600);
      const owner = { userId: 'usr_1', tokenId: 'tok_1' };
      const { ticket } = sessions.issueTicket('nb_a', owner, start);
      expect(sessions.redeemTicket('nb_b', ticket, start)).toBeNull();
      const again = sessions.issueTicket('nb_a', owner, start);
      expect(sessions.redeemTicket('nb_a', again.ticket, start + 61_000)).toBeNull();
      const fresh = sessions.issueTicket('nb_a', owner, start);
      expect(sessions.redeemTicket('nb_a', fresh.ticket, start + 1000)).toEqual(owner);
      expect(sessions.redeemTicket('nb_a', fresh.ticket, start + 1000)).toBeNull();
      const cookie = sessions.sessionCookie('nb_a', owner, start);
      expect(sessions.verifyCookie('nb_a', cookie.value, start + 1000)).toEqual(owner);
      expect(sessions.verifyCookie('nb_b', cookie.value, start + 1000)).toBeNull();
      expect(sessions.verifyCookie('nb_a', cookie.value.replace('usr_1', 'usr_2'), start)).toBeNull();
      // The session is bound to the token that opened it: naming another one breaks the signature.
      expect(sessions.verifyCookie('nb_a', cookie.value.replace('tok_1', 'tok_2'), start)).toBeNull();
      expect(sessions.verifyCookie('nb_a', cookie.value, cookie.expiresAt + 1)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
