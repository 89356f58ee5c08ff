import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProductSpec } from '@aicloud/contracts';
import { createCedarAuthorizer } from '@aicloud/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from './identity/principal.ts';
import { createPlatform } from './platform.ts';
import { createTestPlatform } from './testing/test-platform.ts';

const repoRoot = join(import.meta.dirname, '../../..');

/** The shipped catalog plus a training and an endpoint product on an executor this platform lacks. */
function catalogWithKubernetes(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aicloud-catalog-'));
  for (const file of readdirSync(join(repoRoot, 'catalog')))
    copyFileSync(join(repoRoot, 'catalog', file), join(dir, file));
  const onKubernetes = (file: string, name: string) =>
    readFileSync(join(repoRoot, 'catalog', file), 'utf8')
      .replace(/^name: .*$/m, `name: ${name}`)
      .replace(/^executor: local$/m, 'executor: kubernetes\nimage: ghcr.io/example/trainer:1');
  writeFileSync(join(dir, 'k8s-training.yaml'), onKubernetes('training.yaml', 'k8s-training'));
  writeFileSync(join(dir, 'k8s-endpoint.yaml'), onKubernetes('realtime-endpoint.yaml', 'k8s-endpoint'));
  return dir;
}

describe('executors chosen by product', () => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let alice: Actor;

  beforeAll(async () => {
    platform = await createTestPlatform('sqlite', null, { catalogDir: catalogWithKubernetes() });
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    alice = { principal: await platform.identity.authenticate(credentials.alice.token), requestId: null };
  });
  afterAll(async () => platform?.dispose());

  it('keeps what a product names: its executor and its image; local by default', async () => {
    expect(await platform.catalog.get('k8s-training')).toMatchObject({
      executor: 'kubernetes',
      image: 'ghcr.io/example/trainer:1',
    });
    expect((await platform.catalog.get('training')).executor).toBe('local');
  });

  it('refuses a job on an executor the platform lacks, naming those it has', async () => {
    await expect(
      platform.jobs.submit(alice, { product: 'k8s-training', gpus: 1, command: 'true', maxRuntime: '5m' }),
    ).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(
        /executor kubernetes is not configured on this platform \(it has: local\)/,
      ),
    });
  });

  it('answers a caller who picks an executor the platform lacks with invalid input, not an outage', async () => {
    await expect(
      platform.jobs.submit(alice, {
        product: 'training',
        executor: 'slurm',
        gpus: 1,
        command: 'true',
        maxRuntime: '5m',
        dryRun: true,
      }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/executor slurm is not configured.*pick one of: local/),
    });
  });

  it('refuses to start a replica on an executor the platform lacks, naming those it has', async () => {
    const endpoint = {
      id: 'ep_k8s',
      name: 'k8s-answerer',
      team: 'legal-rag',
      product: 'k8s-endpoint',
      runtime: 'aicloud-tiny',
      artifact_dir: null,
      gpus: 0,
      gpu_type: null,
    } as unknown as Parameters<typeof platform.replicas.acquire>[0];
    await expect(platform.replicas.acquire(endpoint)).rejects.toMatchObject({
      code: 'unavailable',
      message:
        'product k8s-endpoint runs on executor kubernetes, which this platform does not have (it has: local)',
    });
    const replicas = await platform.store.db.selectFrom('endpoint_replicas').selectAll().execute();
    expect(replicas.filter((row) => row.endpoint_id === 'ep_k8s')).toEqual([]);
  });

  it('refuses an executor name that is not a name', () => {
    const base = {
      name: 'on-a100',
      kind: 'training',
      gpu: { types: [], min: 0, max: 0 },
      cpus: 1,
      memoryGiB: 1,
    };
    const spec = {
      ...base,
      maxDuration: '1h',
      spotPolicy: 'auto',
      prices: { cpu: { onDemand: 1, spot: 1 } },
    };
    expect(ProductSpec.safeParse({ ...spec, executor: 'slurm-a100' }).success).toBe(true);
    expect(ProductSpec.safeParse({ ...spec, executor: 'Slurm A100' }).error?.issues[0]?.message).toMatch(
      /an executor name/,
    );
  });
});

describe('catalog executors', () => {
  it('refuses a notebook product on any executor but local, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aicloud-catalog-'));
    const notebook = readFileSync(join(repoRoot, 'catalog', 'notebook-gpu.yaml'), 'utf8');
    writeFileSync(join(dir, 'notebook-gpu.yaml'), notebook.replace(/^executor: local$/m, 'executor: slurm'));
    await expect(createTestPlatform('sqlite', null, { catalogDir: dir, seed: false })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/notebooks run on the local executor only, not slurm/),
    });
  });
});

describe('createPlatform', () => {
  it('needs the local executor notebooks run on, and says so', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aicloud-platform-'));
    await expect(
      createPlatform({
        dataDir,
        sqliteFile: join(dataDir, 'aicloud.db'),
        seedFile: null,
        catalogDir: null,
        authorizer: createCedarAuthorizer({ policiesDir: join(repoRoot, 'policies') }),
        executors: {},
      }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: 'notebooks run on the local executor, which this platform lacks (it has: none)',
    });
  });
});
