import { sql } from 'kysely';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';

const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('audit trail on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  afterEach(async () => platform?.dispose());

  async function withRecords(count: number) {
    platform = await createTestPlatform(target, pgUrl, { seed: false });
    for (let index = 0; index < count; index += 1) {
      await platform.audit.record({
        actor: `user${index % 3}`,
        action: 'thing.done',
        resource: `thing/${index}`,
        outcome: 'success',
        team: index % 2 ? 'a' : 'b',
      });
    }
  }

  it('chains every record to the one before and verifies an intact chain', async () => {
    await withRecords(5);
    const records = await platform.audit.list({ limit: 1000 }, { all: true, teams: [], actor: 'x' });
    const total = records.length;
    expect(records.slice(0, 5).map((record) => record.resource)).toEqual([
      'thing/4',
      'thing/3',
      'thing/2',
      'thing/1',
      'thing/0',
    ]);
    expect(records.map((record) => record.seq)).toEqual(
      Array.from({ length: total }, (_, index) => total - index),
    );
    expect(records[0]!.prevHash).toBe(records[1]!.hash);
    expect(await platform.audit.verify()).toEqual({ ok: true, checked: total, firstBad: null });
  });

  it('names an edited record', async () => {
    await withRecords(5);
    await sql`update audit_records set actor = 'mallory' where seq = 3`.execute(platform.store.db);
    const result = await platform.audit.verify();
    expect(result.firstBad).toMatchObject({ seq: 3, problem: 'edited' });
  });

  it('names a removed record, in the middle or at the end', async () => {
    await withRecords(5);
    await sql`delete from audit_records where seq = 2`.execute(platform.store.db);
    expect((await platform.audit.verify()).firstBad).toMatchObject({ seq: 2, problem: 'removed' });
    await platform.dispose();
    await withRecords(5);
    const last = (await platform.audit.list({ limit: 1 }, { all: true, teams: [], actor: '' }))[0]!.seq;
    await sql`delete from audit_records where seq = ${last}`.execute(platform.store.db);
    expect((await platform.audit.verify()).firstBad).toMatchObject({ seq: last, problem: 'removed' });
  });

  it('names a reordered record', async () => {
    await withRecords(5);
    await sql`update audit_records set seq = 100 where seq = 3`.execute(platform.store.db);
    await sql`update audit_records set seq = 3 where seq = 4`.execute(platform.store.db);
    await sql`update audit_records set seq = 4 where seq = 100`.execute(platform.store.db);
    expect((await platform.audit.verify()).firstBad).toMatchObject({ seq: 3, problem: 'reordered' });
  });

  it('filters by actor, action, resource and scope', async () => {
    await withRecords(6);
    const scope = { all: false, teams: ['a'], actor: 'user0' };
    const visible = await platform.audit.list({ limit: 100 }, scope);
    expect(visible.every((record) => record.actor === 'user0' || record.team === 'a')).toBe(true);
    expect(visible.length).toBe(4);
    const byResource = await platform.audit.list(
      { limit: 100, resource: 'thing/1*' },
      { all: true, teams: [], actor: '' },
    );
    expect(byResource.map((record) => record.resource)).toEqual(['thing/1']);
  });

  it('fails the mutation when the audit append fails, leaving nothing half-written', async () => {
    platform = await createTestPlatform(target, pgUrl);
    const admin = {
      principal: await platform.identity.authenticate(
        JSON.parse((await import('node:fs')).readFileSync(`${platform.dataDir}/credentials.json`, 'utf8'))
          .admin.token,
      ),
      requestId: null,
    };
    await sql`drop table audit_head`.execute(platform.store.db);
    await expect(platform.identity.createTeam(admin, 'doomed')).rejects.toThrow();
    const team = await platform.store.db
      .selectFrom('teams')
      .select('id')
      .where('name', '=', 'doomed')
      .executeTakeFirst();
    expect(team).toBeUndefined();
  });
});
