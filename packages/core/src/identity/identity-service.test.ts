import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import type { Actor } from './principal.ts';

const pgUrl = inject('pgUrl');

describe.each(storeTargets(pgUrl))('identity service on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  afterEach(async () => platform?.dispose());

  async function actorFor(user: string): Promise<Actor> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    return {
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: 'req_test',
    };
  }

  it('seeds the demo organisation once, with tokens in a 0600 credentials file', async () => {
    platform = await createTestPlatform(target, pgUrl);
    expect(platform.seed.seeded).toBe(true);
    const file = join(platform.dataDir, 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const credentials = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(credentials).sort()).toEqual(['admin', 'alice', 'bob', 'carol']);
    const alice = await actorFor('alice');
    expect(platform.identity.whoami(alice).memberships).toEqual([{ team: 'legal-rag', role: 'member' }]);
    const bob = await actorFor('bob');
    expect(bob.principal.teams.get('legal-rag')).toBe('manager');
    expect((await actorFor('admin')).principal.platformAdmin).toBe(true);
  });

  it('stores tokens only as hashes and refuses unknown, revoked and expired ones', async () => {
    let now = Date.parse('2026-11-27T10:00:00Z');
    platform = await createTestPlatform(target, pgUrl, { clock: { now: () => now } });
    const alice = await actorFor('alice');
    const created = await platform.identity.createToken(alice, { name: 'ci', expiresIn: '1h' });
    const rows = await platform.store.db.selectFrom('api_tokens').select(['hash', 'prefix']).execute();
    expect(rows.some((row) => row.hash.includes(created.token) || created.token === row.hash)).toBe(false);
    expect((await platform.identity.authenticate(created.token)).userName).toBe('alice');
    await expect(platform.identity.authenticate('aic_nope')).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    await expect(platform.identity.authenticate('garbage')).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    now += 2 * 3600_000;
    await expect(platform.identity.authenticate(created.token)).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    const second = await platform.identity.createToken(alice, { name: 'other' });
    await platform.identity.revokeToken(alice, second.id);
    await expect(platform.identity.authenticate(second.token)).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    await expect(platform.identity.revokeToken(alice, second.id)).rejects.toMatchObject({ code: 'conflict' });
    expect((await platform.identity.listTokens(alice)).map((token) => token.name)).toEqual([
      'demo',
      'ci',
      'other',
    ]);
  });

  it('asks Cedar (create_key) before creating a token: a scoped run token is refused by key-scoped-token', async () => {
    platform = await createTestPlatform(target, pgUrl);
    const alice = await actorFor('alice');
    const scoped: Actor = { ...alice, principal: { ...alice.principal, scope: 'job:job_123' } };
    await expect(platform.identity.createToken(scoped, { name: 'escape' })).rejects.toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(/^A scoped run token cannot create API tokens/),
    });
    const refusals = await platform.audit.list(
      { action: 'token.create', limit: 1 },
      { all: true, teams: [], actor: 'alice' },
    );
    expect(refusals[0]).toMatchObject({ outcome: 'deny', resource: 'user/alice' });
    expect((await platform.identity.listTokens(alice)).map((token) => token.name)).not.toContain('escape');
    await expect(platform.identity.createToken(alice, { name: 'mine' })).resolves.toMatchObject({
      name: 'mine',
    });
  });

  it('lets only platform-admins manage teams, and hides other teams as absent', async () => {
    platform = await createTestPlatform(target, pgUrl);
    const admin = await actorFor('admin');
    const carol = await actorFor('carol');
    await expect(platform.identity.createTeam(carol, 'rogue')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(platform.identity.getTeam(carol, 'legal-rag')).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      platform.identity.addMember(carol, 'legal-rag', { user: 'carol', role: 'manager' }),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
    const team = await platform.identity.createTeam(admin, 'vision');
    expect(team.members).toEqual([]);
    await expect(platform.identity.createTeam(admin, 'vision')).rejects.toMatchObject({ code: 'conflict' });
    const withDave = await platform.identity.addMember(admin, 'vision', { user: 'dave', role: 'manager' });
    expect(withDave.members).toEqual([{ user: 'dave', role: 'manager' }]);
    expect((await platform.identity.listTeams(carol)).map((t) => t.name)).toEqual(['search']);
    expect((await platform.identity.listTeams(admin)).map((t) => t.name)).toEqual([
      'legal-rag',
      'search',
      'vision',
    ]);
    const denials = await platform.audit.list(
      { limit: 10, action: 'team.create' },
      { all: true, teams: [], actor: 'admin' },
    );
    expect(denials[0]).toMatchObject({ actor: 'carol', outcome: 'deny' });
  });
});
