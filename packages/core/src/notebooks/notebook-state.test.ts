import { readdirSync, readFileSync } from 'node:fs';
import { NotebookStatus } from '@aicloud/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../app-error.ts';
import { openStore, type Store } from '../store/open-store.ts';
import type { NotebookRow } from './notebook-record.ts';
import {
  ACTIVE_NOTEBOOK_STATES,
  canTransitionNotebook,
  INITIAL_NOTEBOOK_STATUS,
  NOTEBOOK_STATUSES,
  NOTEBOOK_TRANSITIONS,
  transitionNotebook,
} from './notebook-state.ts';

describe('the notebook state table', () => {
  it('has a row for every status, and only statuses in it', () => {
    expect(Object.keys(NOTEBOOK_TRANSITIONS).sort()).toEqual([...NotebookStatus.options].sort());
    expect([...NOTEBOOK_STATUSES].sort()).toEqual([...NotebookStatus.options].sort());
    for (const targets of Object.values(NOTEBOOK_TRANSITIONS)) {
      for (const target of targets) expect(NotebookStatus.options).toContain(target);
    }
  });

  it('reaches every status from the initial one, and leaves only the active ones', () => {
    const reached = new Set<NotebookStatus>([INITIAL_NOTEBOOK_STATUS]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const from of [...reached]) {
        for (const to of NOTEBOOK_TRANSITIONS[from]) {
          if (!reached.has(to)) {
            reached.add(to);
            grew = true;
          }
        }
      }
    }
    expect([...reached].sort()).toEqual([...NotebookStatus.options].sort());
    const leaving = NOTEBOOK_STATUSES.filter((status) => NOTEBOOK_TRANSITIONS[status].length > 0);
    expect(leaving.sort()).toEqual([...ACTIVE_NOTEBOOK_STATES].sort());
    for (const status of NOTEBOOK_STATUSES) expect(canTransitionNotebook(status, status)).toBe(false);
    expect(canTransitionNotebook('stopped', 'running')).toBe(false);
    expect(canTransitionNotebook('running', 'starting')).toBe(false);
    expect(canTransitionNotebook('starting', 'running')).toBe(true);
  });
});

describe('who writes a notebook’s status', () => {
  it('is notebook-state alone: no other notebook module sets status in an UPDATE of notebooks', () => {
    const dir = import.meta.dirname;
    const writers: string[] = [];
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
      const source = readFileSync(`${dir}/${file}`, 'utf8');
      // Each UPDATE of notebooks, up to where it runs: its .set(...) must not name status.
      for (const match of source.matchAll(/updateTable\('notebooks'\)([\s\S]*?)\.execute/g)) {
        if (/\bstatus\s*:/.test(match[1] ?? '')) writers.push(file);
      }
    }
    expect(writers).toEqual(['notebook-state.ts']);
  });
});

describe('transitionNotebook (SQLite)', () => {
  let store: Store;
  const id = 'nb_state0123456789';

  beforeEach(async () => {
    store = await openStore({ sqliteFile: ':memory:' });
    await store.db
      .insertInto('notebooks')
      .values({
        id,
        name: 'n',
        team: 'legal-rag',
        owner: 'alice',
        product: 'notebook-short',
        gpus: 0,
        gpu_type: null,
        gpu_indexes: '[]',
        egress: 'allowed',
        status: INITIAL_NOTEBOOK_STATUS,
        host: null,
        port: null,
        token_sealed: 'sealed',
        netns: null,
        work_dir: '/tmp/files',
        rate_micros: 36_000_000,
        estimate_micros: 1_000,
        created_at: '2026-12-04T10:00:00.000Z',
        started_at: null,
        last_activity_at: null,
        idle_timeout_s: 10,
        max_lifetime_s: 25,
        warned_at: null,
        warning: null,
        snoozed_until: null,
        stopped_at: null,
        stop_reason: null,
        stop_message: null,
        metered_until: null,
        cost_micros: 0,
        external_id: null,
      })
      .execute();
  });
  afterEach(async () => {
    await store.close();
  });

  const rowOf = (): Promise<NotebookRow> =>
    store.db.selectFrom('notebooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('moves a notebook along the table, writing its fields with the status', async () => {
    expect(await transitionNotebook(store.db, id, 'starting', 'running')).toBe(true);
    expect(
      await transitionNotebook(store.db, id, 'running', 'stopping', {
        stop_reason: 'user',
        stop_message: 'stopped by alice',
      }),
    ).toBe(true);
    expect(await rowOf()).toMatchObject({
      status: 'stopping',
      stop_reason: 'user',
      stop_message: 'stopped by alice',
    });
    expect(await transitionNotebook(store.db, id, 'stopping', 'stopped')).toBe(true);
    expect((await rowOf()).status).toBe('stopped');
  });

  it('does not move a notebook that is no longer in the from status, and says so', async () => {
    expect(
      await transitionNotebook(store.db, id, 'running', 'stopping', {
        stop_reason: 'idle',
        stop_message: 'x',
      }),
    ).toBe(false);
    expect(await rowOf()).toMatchObject({ status: 'starting', stop_reason: null, stop_message: null });
  });

  it('refuses a transition the table does not have, even when the notebook is in the from status', async () => {
    expect(
      await transitionNotebook(store.db, id, 'starting', 'failed', { stop_reason: 'start_failed' }),
    ).toBe(true);
    const error = await transitionNotebook(store.db, id, 'failed', 'running').then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'internal', details: { from: 'failed', to: 'running' } });
    expect((error as AppError).message).toMatch(/no transition failed → running/);
    await expect(transitionNotebook(store.db, id, 'failed', 'stopped')).rejects.toThrow(/failed → stopped/);
    expect((await rowOf()).status).toBe('failed');
  });
});
