import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AppError } from '../app-error.ts';
import type { Actor } from '../identity/principal.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { writeRunArtifact } from './artifact-upload.ts';
import { createRegistryBridge, type RegistryBridge } from './registry-bridge.ts';
import { createTrackingService, type TrackingService } from './tracking-service.ts';

const pgUrl = inject('pgUrl');

async function refusal(promise: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError)
      return { code: error.details?.mlflowCode ?? error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe.each(storeTargets(pgUrl))('MLflow registry bridge on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let tracking: TrackingService;
  let registry: RegistryBridge;
  let alice: Actor;
  let carol: Actor;
  let runId: string;
  let experimentId: string;

  beforeAll(async () => {
    platform = await createTestPlatform(target, pgUrl);
    const deps = { store: platform.store, audit: platform.audit, clock: platform.clock };
    tracking = createTrackingService({ ...deps, dataDir: platform.dataDir });
    registry = createRegistryBridge({ ...deps, models: platform.models });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    const actor = async (user: string) => ({
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: 'req_test',
    });
    alice = await actor('alice');
    carol = await actor('carol');
    ({ experiment_id: experimentId } = await tracking.createExperiment(alice, { name: 'registry-tune' }));
    const { run } = await tracking.createRun(alice, { experiment_id: experimentId });
    runId = run.info.run_id;
    await tracking.logBatch(alice, {
      run_id: runId,
      metrics: [
        { key: 'eval_loss', value: 0.9, timestamp: 1, step: 0 },
        { key: 'eval_loss', value: 0.25, timestamp: 2, step: 1 },
        { key: 'accuracy', value: 0.875, timestamp: 2, step: 1 },
        { key: 'diverged', value: 'NaN', timestamp: 2, step: 1 },
      ],
    });
    const { dir } = await tracking.artifactRoot(alice, runId);
    await writeRunArtifact({
      root: dir,
      path: 'model/weights.bin',
      body: Readable.from([Buffer.from('tiny weights')]),
      maxBytes: 1024,
    });
    await writeRunArtifact({
      root: dir,
      path: 'model/config.json',
      body: Readable.from([Buffer.from('{"layers":1}')]),
      maxBytes: 1024,
    });
  });
  afterAll(async () => platform?.dispose());

  it('creates a registered model in the caller’s team, as aicloud’s registry sees it', async () => {
    const { registered_model } = await registry.createRegisteredModel(alice, {
      name: 'legal-bridge',
      description: 'contract clause model',
      tags: [{ key: 'domain', value: 'legal' }],
    });
    expect(registered_model).toMatchObject({
      name: 'legal-bridge',
      description: 'contract clause model',
      user_id: 'alice',
      latest_versions: [],
      aliases: [],
    });
    expect(registered_model.tags).toEqual([
      { key: 'aicloud.team', value: 'legal-rag' },
      { key: 'domain', value: 'legal' },
    ]);
    const models = await platform.models.list(alice);
    expect(models.map((model) => `${model.team}/${model.name}`)).toContain('legal-rag/legal-bridge');
    expect((await refusal(registry.createRegisteredModel(alice, { name: 'legal-bridge' }))).code).toBe(
      'RESOURCE_ALREADY_EXISTS',
    );
    expect((await refusal(registry.createRegisteredModel(alice, { name: 'bad/name' }))).code).toBe(
      'INVALID_PARAMETER_VALUE',
    );
  });

  it('registers a run’s artifact as a version: scanned copy, run_id, the run’s metrics, lineage', async () => {
    const { model_version } = await registry.createModelVersion(alice, {
      name: 'legal-bridge',
      source: `runs:/${runId}/model`,
      run_id: runId,
      description: 'first cut',
    });
    expect(model_version).toMatchObject({
      name: 'legal-bridge',
      version: '1',
      run_id: runId,
      source: `runs:/${runId}/model`,
      description: 'first cut',
      current_stage: 'None',
      status: 'READY',
    });
    expect(model_version.tags).toContainEqual({ key: 'aicloud.metric.eval_loss', value: '0.25' });
    const version = await platform.models.version(alice, 'legal-bridge', 1);
    // The latest value of each metric; NaN cannot be a version metric.
    expect(version.metrics).toEqual({ eval_loss: 0.25, accuracy: 0.875 });
    expect(version.files.map((file) => file.path).sort()).toEqual(['config.json', 'weights.bin']);
    expect(version.scanVerdict).toBe('passed');
    expect(version.artifactDir).toContain(join(platform.dataDir, 'artifacts'));
    // MLflow's clients resolve runs:/ to the run's artifact URI before they call create.
    const second = await registry.createModelVersion(alice, {
      name: 'legal-bridge',
      source: `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`,
    });
    expect(second.model_version).toMatchObject({ version: '2', run_id: runId });
    const audit = await platform.store.db
      .selectFrom('audit_records')
      .select(['action', 'details'])
      .where('action', '=', 'model.registered')
      .execute();
    expect(audit.some((record) => String(record.details).includes(runId))).toBe(true);
  });

  it('refuses sources it cannot register and runs or models the caller cannot see', async () => {
    expect(
      (
        await refusal(
          registry.createModelVersion(alice, { name: 'legal-bridge', source: 's3://bucket/model' }),
        )
      ).code,
    ).toBe('INVALID_PARAMETER_VALUE');
    expect(
      (
        await refusal(
          registry.createModelVersion(alice, { name: 'legal-bridge', source: `runs:/${runId}/missing` }),
        )
      ).code,
    ).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(
      (
        await refusal(
          registry.createModelVersion(alice, {
            name: 'legal-bridge',
            source: `runs:/${runId}/../../../etc`,
          }),
        )
      ).code,
    ).toBe('INVALID_PARAMETER_VALUE');
    expect(
      (
        await refusal(
          registry.createModelVersion(alice, {
            name: 'legal-bridge',
            source: `runs:/${runId}/model`,
            run_id: 'f'.repeat(32),
          }),
        )
      ).code,
    ).toBe('INVALID_PARAMETER_VALUE');
    // Another team's model and run are as absent as missing ones.
    expect((await refusal(registry.getRegisteredModel(carol, { name: 'legal-bridge' }))).code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    expect(
      (await refusal(registry.getModelVersion(carol, { name: 'legal-bridge', version: '1' }))).code,
    ).toBe('RESOURCE_DOES_NOT_EXIST');
    await registry.createRegisteredModel(carol, { name: 'carol-model' });
    expect(
      (
        await refusal(
          registry.createModelVersion(carol, { name: 'carol-model', source: `runs:/${runId}/model` }),
        )
      ).code,
    ).toBe('RESOURCE_DOES_NOT_EXIST');
    const { registered_models } = await registry.searchRegisteredModels(carol, {});
    expect(registered_models.map((model) => model.name)).toEqual(['carol-model']);
  });

  it('sets, reads and deletes aliases on aicloud’s registry', async () => {
    await registry.setAlias(alice, { name: 'legal-bridge', alias: 'champion', version: '1' });
    const { model_version } = await registry.getByAlias(alice, { name: 'legal-bridge', alias: 'champion' });
    expect(model_version).toMatchObject({ version: '1', aliases: ['champion'] });
    expect((await platform.models.version(alice, 'legal-bridge', 'champion')).version).toBe(1);
    const { registered_model } = await registry.getRegisteredModel(alice, { name: 'legal-bridge' });
    expect(registered_model.aliases).toEqual([{ alias: 'champion', version: '1' }]);
    expect(registered_model.latest_versions.map((version) => version.version)).toEqual(['2']);
    expect(
      (await refusal(registry.setAlias(alice, { name: 'legal-bridge', alias: 'x', version: '9' }))).code,
    ).toBe('RESOURCE_DOES_NOT_EXIST');
    await registry.deleteAlias(alice, { name: 'legal-bridge', alias: 'champion' });
    expect(
      (await refusal(registry.getByAlias(alice, { name: 'legal-bridge', alias: 'champion' }))).code,
    ).toBe('RESOURCE_DOES_NOT_EXIST');
  });

  it('searches models and versions with MLflow’s filter grammar', async () => {
    const models = await registry.searchRegisteredModels(alice, { filter: "name LIKE 'legal-%'" });
    expect(models.registered_models.map((model) => model.name)).toEqual(['legal-bridge']);
    expect(
      (await registry.searchRegisteredModels(alice, { filter: "tags.domain = 'legal'" })).registered_models,
    ).toHaveLength(1);
    const versions = await registry.searchModelVersions(alice, {
      filter: `name = 'legal-bridge' and run_id = '${runId}'`,
      order_by: ['version_number ASC'],
    });
    expect(versions.model_versions.map((version) => version.version)).toEqual(['1', '2']);
    const paged = await registry.searchModelVersions(alice, {
      filter: "name='legal-bridge'",
      max_results: 1,
    });
    expect(paged.model_versions).toHaveLength(1);
    expect(paged.next_page_token).toBeDefined();
    expect((await refusal(registry.searchModelVersions(alice, { filter: 'name ~ 1' }))).code).toBe(
      'INVALID_PARAMETER_VALUE',
    );
    const latest = await registry.getLatestVersions(alice, { name: 'legal-bridge' });
    expect(latest.model_versions.map((version) => version.version)).toEqual(['2']);
    expect(
      (await registry.getLatestVersions(alice, { name: 'legal-bridge', stages: ['Production'] }))
        .model_versions,
    ).toEqual([]);
  });

  it('updates descriptions, hands out a download URI, renames and deletes (audited)', async () => {
    const updated = await registry.updateModelVersion(alice, {
      name: 'legal-bridge',
      version: '2',
      description: 'second cut',
    });
    expect(updated.model_version.description).toBe('second cut');
    const model = await registry.updateRegisteredModel(alice, { name: 'legal-bridge', description: 'v2' });
    expect(model.registered_model.description).toBe('v2');
    const { artifact_uri } = await registry.getDownloadUri(alice, { name: 'legal-bridge', version: '1' });
    expect(artifact_uri).toMatch(/^mlflow-artifacts:\/models\/mdl_[^/]+\/1$/);
    const renamed = await registry.renameRegisteredModel(alice, {
      name: 'legal-bridge',
      new_name: 'legal-clauses',
    });
    expect(renamed.registered_model.name).toBe('legal-clauses');
    expect((await platform.models.show(alice, 'legal-clauses')).versionCount).toBe(2);
    await registry.deleteModelVersion(alice, { name: 'legal-clauses', version: '1' });
    expect(
      (await refusal(registry.getModelVersion(alice, { name: 'legal-clauses', version: '1' }))).code,
    ).toBe('RESOURCE_DOES_NOT_EXIST');
    await registry.deleteRegisteredModel(alice, { name: 'legal-clauses' });
    expect((await refusal(registry.getRegisteredModel(alice, { name: 'legal-clauses' }))).code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    const actions = (
      await platform.store.db
        .selectFrom('audit_records')
        .select('action')
        .where('team', '=', 'legal-rag')
        .execute()
    ).map((record) => record.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'model.created',
        'model.alias_deleted',
        'model.version_updated',
        'model.updated',
        'model.renamed',
        'model.version_deleted',
        'model.deleted',
      ]),
    );
  });
});
