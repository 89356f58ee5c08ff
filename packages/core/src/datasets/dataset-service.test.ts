import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Admission } from '@aicloud/contracts';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { AppError } from '../app-error.ts';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { canonicalLocation } from './approved-locations.ts';

const pgUrl = inject('pgUrl');

describe('canonicalLocation', () => {
  it('percent-decodes, resolves . and .., and refuses what cannot be read one way', () => {
    expect(canonicalLocation('file:///nowhere/lake/search/%2e%2e/legal-rag/v2/')).toBe(
      'file:///nowhere/lake/legal-rag/v2',
    );
    expect(canonicalLocation('/nowhere/lake/search/../../secret.key')).toBe('file:///nowhere/secret.key');
    expect(canonicalLocation('file://localhost/nowhere/a/./b')).toBe('file:///nowhere/a/b');
    expect(canonicalLocation('s3://lake/search/%2E%2E/legal-rag')).toBe('s3://lake/legal-rag');
    for (const bad of [
      'lake/search/x',
      'file://other-host/x',
      'file:///lake/search/%252e%252e/x',
      'file:///lake/search/x?y',
      'file:///lake/%zz',
    ])
      expect(() => canonicalLocation(bad), bad).toThrow(
        expect.objectContaining({ code: 'invalid_input', details: { rule: 'dataset-location-canonical' } }),
      );
  });
});

describe.each(storeTargets(pgUrl))('datasets on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  afterEach(async () => platform?.dispose());

  async function actorFor(user: string): Promise<Actor> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    return {
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: `req_${user}`,
    };
  }

  /** The policy codes a dry run of a one-GPU job reading the datasets answers with. */
  async function preview(actor: Actor, datasets: string[]): Promise<{ outcome: string; codes: string[] }> {
    let admission: Admission;
    try {
      admission = (
        await platform.jobs.submit(actor, {
          product: 'fine-tune',
          gpus: 1,
          maxRuntime: '1h',
          datasets,
          dryRun: true,
        })
      ).admission;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      admission = (error.details as { admission: Admission }).admission;
    }
    return { outcome: admission.outcome, codes: admission.reasons.map((reason) => reason.code) };
  }

  it("refuses a location in another team's part of the lake, however it is written", async () => {
    platform = await createTestPlatform(target, pgUrl);
    const carol = await actorFor('carol');
    const lake = join(platform.dataDir, 'lake');
    mkdirSync(join(lake, 'search'), { recursive: true });
    symlinkSync(join(lake, 'legal-rag', 'v2'), join(lake, 'search', 'alias'));
    const register = (name: string, location: string) =>
      platform.datasets.register(carol, {
        path: `projects/search/datasets/${name}`,
        location,
        encrypted: true,
        classification: 'confidential',
        tags: {},
      });
    const teamPrefix = { code: 'forbidden', details: { rule: 'dataset-location-team-prefix' } };
    const platformDir = { code: 'forbidden', details: { rule: 'dataset-location-platform-dir' } };
    // The report: search's dataset at legal-rag's v2.
    await expect(register('steal', `file://${lake}/legal-rag/v2`)).rejects.toMatchObject(teamPrefix);
    await expect(register('steal', `file://${lake}/search/../legal-rag/v2`)).rejects.toMatchObject(
      teamPrefix,
    );
    await expect(register('steal', `file://${lake}/search/%2e%2e/legal-rag/v2`)).rejects.toMatchObject(
      teamPrefix,
    );
    await expect(register('steal', `file://${lake}/search/alias`)).rejects.toMatchObject(teamPrefix);
    await expect(register('steal', `${lake}/legal-rag/v2`)).rejects.toMatchObject(teamPrefix);
    await expect(register('steal', `file://${lake}`)).rejects.toMatchObject(teamPrefix);
    // Out of the lake into the platform's own files.
    await expect(register('key', `file://${lake}/search/../../secret.key`)).rejects.toMatchObject(
      platformDir,
    );
    await expect(register('key', `file://${lake}/search/%2e%2e/%2E%2E/secret.key`)).rejects.toMatchObject(
      platformDir,
    );
    await expect(register('key', `file://${lake}/search/%252e%252e/x`)).rejects.toMatchObject({
      code: 'invalid_input',
    });
    const message = await register('steal', `file://${lake}/search/%2e%2e/legal-rag/v2`).catch(
      (error: Error) => error.message,
    );
    expect(message).toContain(`file://${lake}/legal-rag/v2`);
    expect(message).toContain(`${lake}/search/`);
    // Nothing was stored; every refusal was audited.
    expect(await platform.datasets.list(carol)).toEqual([]);
    const denied = await platform.store.db
      .selectFrom('audit_records')
      .select('resource')
      .where('action', '=', 'dataset.register')
      .where('outcome', '=', 'deny')
      .execute();
    expect(denied).toHaveLength(10);
    // Her own part of the lake is stored canonically and approved.
    const own = await register('docs', `file://${lake}/search/tmp/../docs`);
    expect(own).toMatchObject({ location: `file://${lake}/search/docs`, inApprovedLocation: true });
  });

  it("takes encryption and classification from attestation, not the registrant's claim", async () => {
    platform = await createTestPlatform(target, pgUrl);
    const alice = await actorFor('alice');
    const carol = await actorFor('carol');
    const admin = await actorFor('admin');
    const lake = join(platform.dataDir, 'lake');
    const docs = await platform.datasets.register(carol, {
      path: 'projects/search/datasets/docs',
      location: `file://${lake}/search/docs`,
      encrypted: true,
      classification: 'confidential',
      tags: {},
    });
    expect(docs).toMatchObject({
      encrypted: false,
      classification: null,
      claimed: { encrypted: true, classification: 'confidential' },
      attestedBy: null,
      inApprovedLocation: true,
    });
    // The policies read the facts: unclassified and unencrypted until attested.
    const before = await preview(carol, ['projects/search/datasets/docs']);
    expect(before.outcome).toBe('rejected');
    expect(before.codes.sort()).toEqual(['dataset-approved-encrypted-location', 'dataset-classified']);
    // Only a platform-admin attests; another team does not even see it.
    await expect(
      platform.datasets.attest(carol, { path: 'projects/search/datasets/docs', encrypted: true }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    await expect(
      platform.datasets.attest(alice, { path: 'projects/search/datasets/docs', encrypted: true }),
    ).rejects.toMatchObject({ code: 'not_found' });
    const attested = await platform.datasets.attest(admin, {
      path: 'projects/search/datasets/docs',
      encrypted: true,
      classification: 'internal',
    });
    expect(attested).toMatchObject({ encrypted: true, classification: 'internal', attestedBy: 'admin' });
    expect(await preview(carol, ['projects/search/datasets/docs'])).toEqual({
      outcome: 'admitted',
      codes: [],
    });
    // A link made after registration into legal-rag's data makes it legal-rag's data.
    mkdirSync(join(lake, 'search'), { recursive: true });
    symlinkSync(join(lake, 'legal-rag', 'v2'), join(lake, 'search', 'docs'));
    const aliased = await preview(carol, ['projects/search/datasets/docs']);
    expect(aliased.codes).toContain('dataset-own-team');
    // The seed's v2 stays usable by alice: its facts are the platform's.
    expect(await platform.datasets.get(alice, 'projects/legal-rag/datasets/v2')).toMatchObject({
      encrypted: true,
      classification: 'confidential',
      attestedBy: 'system',
      inApprovedLocation: true,
    });
    expect(await preview(alice, ['projects/legal-rag/datasets/v2'])).toEqual({
      outcome: 'admitted',
      codes: [],
    });
    // A prefix the platform knows to be encrypted makes data there encrypted as a fact.
    await platform.store.db
      .updateTable('settings')
      .set({ value: JSON.stringify([`file://${lake}/search/`]) })
      .where('key', '=', 'encrypted_locations')
      .execute();
    const sealed = await platform.datasets.register(carol, {
      path: 'projects/search/datasets/sealed',
      location: `file://${lake}/search/sealed`,
      encrypted: false,
      tags: {},
    });
    expect(sealed).toMatchObject({ encrypted: true, classification: null });
  });
});
