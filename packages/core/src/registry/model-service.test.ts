import { execFileSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Actor } from '../identity/principal.ts';
import { jobPaths } from '../runner/job-paths.ts';
import { createTestPlatform, storeTargets } from '../testing/test-platform.ts';
import { readModelFile } from './model-service.ts';
import { pythonCorpus } from './scanner/testing/python-corpus.ts';

const pgUrl = inject('pgUrl');

function safetensors(): Buffer {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(8)]);
}

/** The message a promise is rejected with; fails the test when it resolves. */
async function messageOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(Error);
  return (error as Error).message;
}

describe('readModelFile', () => {
  it('reads a bare name, key=value lines or JSON', () => {
    expect(readModelFile('legal-answerer\n')).toEqual({ name: 'legal-answerer' });
    expect(readModelFile('aicloud.model=legal-answerer\naicloud.runtime: vllm\n')).toEqual({
      name: 'legal-answerer',
      runtime: 'vllm',
    });
    expect(readModelFile('{"aicloud.model": "x"}')).toEqual({ name: 'x' });
  });
});

describe.each(storeTargets(pgUrl))('model registry on %s', (target) => {
  let platform: Awaited<ReturnType<typeof createTestPlatform>>;
  let corpus: Record<string, Buffer>;
  let work: string;
  let benignDir: string;
  let maliciousDir: string;

  beforeAll(() => {
    corpus = pythonCorpus();
    work = mkdtempSync(join(tmpdir(), 'aicloud-models-'));
    benignDir = join(work, 'benign');
    mkdirSync(benignDir);
    writeFileSync(join(benignDir, 'pytorch_model.bin'), corpus.torch_zip_benign!);
    writeFileSync(join(benignDir, 'config.json'), '{"hidden_size": 8}');
    maliciousDir = join(work, 'malicious');
    mkdirSync(join(maliciousDir, 'sub'), { recursive: true });
    writeFileSync(join(maliciousDir, 'model.safetensors'), corpus.posix_system!);
    writeFileSync(join(maliciousDir, 'sub', 'weights.pkl'), corpus.benign_p4!);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  afterEach(async () => platform?.dispose());
  /** The test's work dir is an import root of both teams. */
  const roots = () => ({ 'legal-rag': [work], search: [work] });

  async function actorFor(user: string): Promise<Actor> {
    const credentials = JSON.parse(readFileSync(join(platform.dataDir, 'credentials.json'), 'utf8'));
    return {
      principal: await platform.identity.authenticate(credentials[user].token),
      requestId: 'req_test',
    };
  }

  async function insertJob(id: string, values: { name: string; status?: string; datasets?: string[] }) {
    const now = new Date().toISOString();
    await platform.store.db
      .insertInto('jobs')
      .values({
        id,
        name: values.name,
        team: 'legal-rag',
        owner: 'alice',
        product: 'fine-tune',
        kind: 'fine-tune',
        gpus: 1,
        gpu_type: 'A100',
        spot: 0,
        datasets: JSON.stringify(values.datasets ?? []),
        secrets: '[]',
        command: 'python train.py',
        executor: 'local',
        max_runtime_s: 3600,
        grace_s: 30,
        status: values.status ?? 'succeeded',
        reasons: '[]',
        decision: '{}',
        estimate_micros: 5_000_000,
        reserved_micros: 0,
        cost_micros: 1_250_000,
        approval_id: null,
        gpu_indexes: '[0]',
        gpu_source: 'declared',
        exit_code: 0,
        external_id: null,
        created_at: now,
        admitted_at: now,
        started_at: now,
        ended_at: now,
        metered_until: now,
      })
      .execute();
  }

  it('copies a local dir into the content-addressed store, scans it, and numbers versions', async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: roots() });
    const alice = await actorFor('alice');
    const first = await platform.models.register(alice, {
      name: 'legal-answerer',
      source: `path:${benignDir}`,
      tags: { stage: 'dev' },
      metrics: { accuracy: 0.9 },
    });
    expect(first).toMatchObject({
      model: 'legal-answerer',
      team: 'legal-rag',
      version: 1,
      runtime: 'aicloud-tiny',
      scanVerdict: 'passed',
      trustRemoteCode: false,
      tags: { stage: 'dev' },
      metrics: { accuracy: 0.9 },
      createdBy: 'alice',
    });
    expect(first.files.map((file) => file.path)).toEqual(['config.json', 'pytorch_model.bin']);
    expect(first.scan.files[1]).toMatchObject({ format: 'zip-pickle', verdict: 'passed' });
    expect(first.artifactDir).toBe(
      join(platform.dataDir, 'artifacts', first.digest!.slice(0, 2), first.digest!),
    );
    expect(readFileSync(join(first.artifactDir!, 'config.json'), 'utf8')).toBe('{"hidden_size": 8}');
    expect(statSync(join(first.artifactDir!, 'pytorch_model.bin')).mode & 0o222).toBe(0);
    const second = await platform.models.register(alice, {
      name: 'legal-answerer',
      source: `path:${benignDir}`,
    });
    expect(second.version).toBe(2);
    expect(second.artifactDir).toBe(first.artifactDir);
    const versions = await platform.models.versions(alice, 'legal-answerer');
    expect(versions.map((version) => version.version)).toEqual([1, 2]);
    const audit = await platform.store.db
      .selectFrom('audit_records')
      .select(['action', 'resource', 'outcome'])
      .where('action', '=', 'model.registered')
      .execute();
    expect(audit.map((record) => record.resource)).toEqual([
      'model/legal-rag/legal-answerer@1',
      'model/legal-rag/legal-answerer@2',
    ]);
    // The platform's own data dir is never a source.
    await expect(
      platform.models.register(alice, { name: 'stolen', source: `path:${platform.dataDir}` }),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('blocks a version carrying a malicious pickle, whatever its file is called', async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: roots() });
    const alice = await actorFor('alice');
    const version = await platform.models.register(alice, { name: 'evil', source: `path:${maliciousDir}` });
    expect(version.scanVerdict).toBe('blocked');
    const file = version.scan.files.find((entry) => entry.path === 'model.safetensors');
    expect(file).toMatchObject({ format: 'pickle', verdict: 'blocked' });
    expect(file!.imports).toContainEqual(expect.objectContaining({ module: 'posix', name: 'system' }));
  });

  it('pins Hugging Face sources to a revision and refuses trust_remote_code for unpinned ones', async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: roots() });
    const alice = await actorFor('alice');
    await expect(
      platform.models.register(alice, { name: 'llama', source: 'hf://meta-llama/Llama-3.2-1B' }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/hf-source-requires-revision/),
    });
    const pinned = await platform.models.register(alice, {
      name: 'llama',
      source: 'hf://meta-llama/Llama-3.2-1B@main',
    });
    expect(pinned).toMatchObject({ version: 1, runtime: 'vllm', files: [], scanVerdict: 'needs_review' });
    expect(pinned.scan.problems.join()).toMatch(/could not be fetched in this environment/);
    await expect(
      platform.models.register(alice, {
        name: 'llama',
        source: 'hf://meta-llama/Llama-3.2-1B@main',
        trustRemoteCode: true,
      }),
    ).rejects.toMatchObject({
      code: 'policy_denied',
      details: { rule: 'trust-remote-code-requires-pinned-source' },
    });
    const sha = 'a'.repeat(40);
    const trusted = await platform.models.register(alice, {
      name: 'llama',
      source: `hf://meta-llama/Llama-3.2-1B@${sha}`,
      trustRemoteCode: true,
    });
    expect(trusted).toMatchObject({ version: 2, trustRemoteCode: true });
    const local = await platform.models.register(alice, {
      name: 'local',
      source: `path:${benignDir}`,
      trustRemoteCode: true,
    });
    expect(local.trustRemoteCode).toBe(true);
    const denied = await platform.store.db
      .selectFrom('audit_records')
      .select(['details'])
      .where('action', '=', 'model.register')
      .where('outcome', '=', 'deny')
      .execute();
    expect(denied).toHaveLength(2);
  });

  it('points aliases at versions, one version per alias', async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: roots() });
    const alice = await actorFor('alice');
    await platform.models.register(alice, { name: 'm', source: `path:${benignDir}` });
    await platform.models.register(alice, { name: 'm', source: `path:${benignDir}` });
    expect((await platform.models.setAlias(alice, 'm', 'champion', 1)).aliases).toEqual({ champion: 1 });
    const moved = await platform.models.setAlias(alice, 'm', 'champion', 2);
    await platform.models.setAlias(alice, 'm', 'production', 1);
    expect((await platform.models.show(alice, 'm')).aliases).toEqual({ champion: 2, production: 1 });
    expect(moved.latestVersion).toBe(2);
    expect((await platform.models.version(alice, 'm', 'champion')).version).toBe(2);
    expect((await platform.models.version(alice, 'm', 1)).aliases).toEqual(['production']);
    await expect(platform.models.setAlias(alice, 'm', 'champion', 9)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.models.setAlias(alice, 'm', 'Bad Alias', 1)).rejects.toMatchObject({
      code: 'invalid_input',
    });
    const records = await platform.store.db
      .selectFrom('audit_records')
      .select('details')
      .where('action', '=', 'model.alias_set')
      .execute();
    expect(records).toHaveLength(3);
  });

  it('registers a succeeded fine-tune job output as the next version with its lineage', async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: roots() });
    const alice = await actorFor('alice');
    await insertJob('job_lineage1', { name: 'tune-legal', datasets: ['projects/legal-rag/datasets/v2'] });
    const output = jobPaths(platform.dataDir, 'job_lineage1').outputDir;
    mkdirSync(output, { recursive: true });
    writeFileSync(join(output, 'MODEL'), 'aicloud.model=legal-answerer\n');
    writeFileSync(join(output, 'model.safetensors'), safetensors());
    const now = new Date().toISOString();
    await platform.store.db
      .insertInto('job_metrics')
      .values([
        { job_id: 'job_lineage1', seq: 1, step: 1, name: 'loss', value: 2.5, time: now },
        { job_id: 'job_lineage1', seq: 2, step: 2, name: 'loss', value: 0.75, time: now },
        { job_id: 'job_lineage1', seq: 2, step: 2, name: 'accuracy', value: 0.5, time: now },
      ])
      .execute();
    const version = await platform.models.registerJobOutput('job_lineage1');
    expect(version).toMatchObject({
      model: 'legal-answerer',
      team: 'legal-rag',
      version: 1,
      source: 'job:job_lineage1',
      metrics: { loss: 0.75, accuracy: 0.5 },
      scanVerdict: 'passed',
      lineage: { datasets: ['projects/legal-rag/datasets/v2'], jobId: 'job_lineage1' },
      createdBy: 'alice',
    });
    expect(version.scan.safetensorsPreferred).toBe(true);
    // Registering the same job again answers the version it already made.
    expect((await platform.models.registerJobOutput('job_lineage1')).version).toBe(1);
    const lineage = await platform.models.lineage(alice, 'legal-answerer@1');
    expect(lineage).toEqual({
      model: 'legal-answerer',
      team: 'legal-rag',
      version: 1,
      source: 'job:job_lineage1',
      scanVerdict: 'passed',
      datasets: [
        {
          path: 'projects/legal-rag/datasets/v2',
          registered: true,
          classification: 'confidential',
          location: expect.stringMatching(/lake\/legal-rag\/v2$/),
          encrypted: true,
        },
      ],
      job: {
        id: 'job_lineage1',
        name: 'tune-legal',
        product: 'fine-tune',
        owner: 'alice',
        status: 'succeeded',
        cost: 1.25,
      },
      endpoints: [],
    });
    // The runner's end hook registers the next fine-tune as version 2; jobs without output are skipped.
    await insertJob('job_lineage2', { name: 'legal-answerer' });
    const second = jobPaths(platform.dataDir, 'job_lineage2').outputDir;
    mkdirSync(second, { recursive: true });
    writeFileSync(join(second, 'model.safetensors'), safetensors());
    const job = await platform.jobs.get(alice, 'job_lineage2');
    await platform.models.onJobEnded(job);
    expect((await platform.models.lineage(alice, 'legal-answerer@2')).job?.id).toBe('job_lineage2');
    await insertJob('job_running', { name: 'legal-answerer', status: 'running' });
    await expect(platform.models.registerJobOutput('job_running')).rejects.toMatchObject({
      code: 'conflict',
    });
    const audit = await platform.store.db
      .selectFrom('audit_records')
      .select(['actor'])
      .where('action', '=', 'model.registered')
      .execute();
    expect(audit.map((record) => record.actor)).toEqual(['system', 'system']);
  });

  /** What a refused registration left behind: model versions and files in the artifact store. */
  async function leftBehind() {
    const versions = await platform.store.db.selectFrom('model_versions').select('version').execute();
    const artifacts = join(platform.dataDir, 'artifacts');
    return { versions: versions.length, artifacts: existsSync(artifacts) ? readdirSync(artifacts) : [] };
  }

  it("reads path: sources only from the team's import roots, resolved, capped, regular files only", async () => {
    // A configured root outside the data dir, and the default root <dataDir>/imports/<team>.
    const root = mkdtempSync(join(tmpdir(), 'aicloud-import-root-'));
    // Like PostgreSQL's data dir: 0700, holding files the server (root) can read and the team cannot.
    const pgdata = mkdtempSync(join(tmpdir(), 'aicloud-pgdata-'));
    writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
    try {
      platform = await createTestPlatform(target, pgUrl, {
        importRoots: { 'legal-rag': [root] },
        importMaxBytes: 4096,
      });
      const alice = await actorFor('alice');
      const carol = await actorFor('carol');
      const register = (who: Actor, name: string, path: string) =>
        platform.models.register(who, { name, source: `path:${path}` });

      // Anywhere else on the server is refused, naming the source, the rule and where to copy it.
      const outside = register(alice, 'pg', pgdata);
      await expect(outside).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'path-source-inside-import-root' },
      });
      const message = await messageOf(outside);
      expect(message).toContain(`path:${pgdata}`);
      expect(message).toContain(join(platform.dataDir, 'imports', 'legal-rag'));
      expect(message).toContain('--import-root');
      // `..` out of a root is resolved before the check.
      await expect(register(alice, 'pg', `${root}/../${pgdata.split('/').at(-1)}`)).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'path-source-inside-import-root' },
      });
      // Another team's root is not carol's.
      mkdirSync(join(root, 'model'));
      writeFileSync(join(root, 'model', 'config.json'), '{}');
      await expect(register(carol, 'm', join(root, 'model'))).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'path-source-inside-import-root' },
      });
      // A link inside the root that leads out of it.
      mkdirSync(join(root, 'linked'));
      writeFileSync(join(root, 'linked', 'config.json'), '{}');
      symlinkSync(join(pgdata, 'PG_VERSION'), join(root, 'linked', 'PG_VERSION'));
      await expect(register(alice, 'linked', join(root, 'linked'))).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'path-source-symlink-inside-root', path: 'PG_VERSION' },
      });
      // A hard link to the platform's secret key, placed in the root.
      mkdirSync(join(root, 'hard'));
      linkSync(join(platform.dataDir, 'secret.key'), join(root, 'hard', 'weights.bin'));
      await expect(register(alice, 'hard', join(root, 'hard'))).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'artifact-no-hard-links', path: 'weights.bin' },
      });
      // A named pipe is not silently skipped: the whole registration is refused.
      mkdirSync(join(root, 'fifo'));
      writeFileSync(join(root, 'fifo', 'config.json'), '{}');
      execFileSync('mkfifo', [join(root, 'fifo', 'pipe')]);
      await expect(register(alice, 'fifo', join(root, 'fifo'))).rejects.toMatchObject({
        code: 'invalid_input',
        details: { rule: 'artifact-regular-files-only', path: 'pipe' },
      });
      // Over the configured cap, with the cap named.
      mkdirSync(join(root, 'big'));
      writeFileSync(join(root, 'big', 'weights.bin'), Buffer.alloc(5000));
      const big = register(alice, 'big', join(root, 'big'));
      await expect(big).rejects.toMatchObject({
        code: 'invalid_input',
        details: { rule: 'artifact-size-cap' },
      });
      expect(await messageOf(big)).toContain('4 KiB');
      // Every refusal stored nothing and was audited.
      expect(await leftBehind()).toEqual({ versions: 0, artifacts: [] });
      const denied = await platform.store.db
        .selectFrom('audit_records')
        .select('details')
        .where('action', '=', 'model.register')
        .where('outcome', '=', 'deny')
        .execute();
      expect(denied).toHaveLength(7);

      // The configured root and the default root both work.
      const fromRoot = await register(alice, 'model', join(root, 'model'));
      expect(fromRoot).toMatchObject({ team: 'legal-rag', version: 1, files: [{ path: 'config.json' }] });
      const imports = join(platform.dataDir, 'imports', 'legal-rag', 'benign');
      mkdirSync(imports, { recursive: true });
      writeFileSync(join(imports, 'config.json'), '{"hidden_size": 8}');
      expect((await register(alice, 'default-root', imports)).version).toBe(1);
      // Links that stay inside the root are followed.
      mkdirSync(join(root, 'inner'));
      symlinkSync(join(root, 'model', 'config.json'), join(root, 'inner', 'config.json'));
      expect((await register(alice, 'inner', join(root, 'inner'))).digest).toBe(fromRoot.digest);
      // The rest of the data dir stays out of reach, even through the default root.
      await expect(
        register(alice, 'stolen', join(platform.dataDir, 'imports', 'legal-rag', '..', '..')),
      ).rejects.toMatchObject({ code: 'forbidden' });
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(pgdata, { recursive: true, force: true });
    }
  });

  it("never follows a link out of a job's output dir: the registration is refused and stores nothing", async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: roots() });
    const alice = await actorFor('alice');
    const data = mkdtempSync(join(tmpdir(), 'aicloud-job-data-'));
    writeFileSync(join(data, 'secret.txt'), 'aicloud.model=the-secret-content\n');
    try {
      const job = async (id: string, fill: (output: string) => void) => {
        await insertJob(id, { name: 'tune-legal' });
        const output = jobPaths(platform.dataDir, id).outputDir;
        mkdirSync(output, { recursive: true });
        writeFileSync(join(output, 'model.safetensors'), safetensors());
        fill(output);
        return output;
      };
      // ln -s $DATA $AICLOUD_OUTPUT_DIR/x
      await job('job_symlink', (output) => symlinkSync(data, join(output, 'x')));
      const linked = platform.models.registerJobOutput('job_symlink', alice);
      await expect(linked).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'job-output-no-symlinks', path: 'x', target: data },
      });
      expect(await messageOf(linked)).toContain(`x -> ${data}`);
      // A linked MODEL file is not read (its content would show in the error).
      await job('job_model_link', (output) => symlinkSync(join(data, 'secret.txt'), join(output, 'MODEL')));
      const model = platform.models.registerJobOutput('job_model_link');
      await expect(model).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'job-output-no-symlinks' },
      });
      expect(await messageOf(model)).not.toContain('the-secret-content');
      // The output dir itself replaced by a link.
      const replaced = await job('job_dir_link', () => {});
      rmSync(replaced, { recursive: true });
      symlinkSync(data, replaced);
      await expect(platform.models.registerJobOutput('job_dir_link')).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'job-output-no-symlinks' },
      });
      // A hard link to a file outside, and a special file.
      await job('job_hard_link', (output) => linkSync(join(data, 'secret.txt'), join(output, 'notes.txt')));
      await expect(platform.models.registerJobOutput('job_hard_link')).rejects.toMatchObject({
        code: 'forbidden',
        details: { rule: 'artifact-no-hard-links', path: 'notes.txt' },
      });
      await job('job_fifo', (output) => execFileSync('mkfifo', [join(output, 'pipe')]));
      await expect(platform.models.registerJobOutput('job_fifo')).rejects.toMatchObject({
        code: 'invalid_input',
        details: { rule: 'artifact-regular-files-only', path: 'pipe' },
      });
      // The runner's end hook refuses the same way, without throwing.
      await platform.models.onJobEnded(await platform.jobs.get(alice, 'job_symlink'));
      expect(await leftBehind()).toEqual({ versions: 0, artifacts: [] });
      const denied = await platform.store.db
        .selectFrom('audit_records')
        .select(['actor', 'details'])
        .where('action', '=', 'model.register')
        .where('outcome', '=', 'deny')
        .execute();
      expect(denied.length).toBeGreaterThanOrEqual(5);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  it("hides a team's models from other teams: not found, as if absent", async () => {
    platform = await createTestPlatform(target, pgUrl, { importRoots: roots() });
    const alice = await actorFor('alice');
    const carol = await actorFor('carol');
    await platform.models.register(alice, { name: 'legal-answerer', source: `path:${benignDir}` });
    expect(await platform.models.list(carol)).toEqual([]);
    expect((await platform.models.list(alice)).map((model) => model.name)).toEqual(['legal-answerer']);
    await expect(platform.models.show(carol, 'legal-answerer')).rejects.toMatchObject({ code: 'not_found' });
    await expect(platform.models.versions(carol, 'legal-answerer')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.models.version(carol, 'legal-answerer', 1)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.models.lineage(carol, 'legal-answerer@1')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.models.setAlias(carol, 'legal-answerer', 'champion', 1)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(platform.models.show(carol, 'legal-answerer', { team: 'legal-rag' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(
      platform.models.register(carol, { name: 'x', team: 'legal-rag', source: `path:${benignDir}` }),
    ).rejects.toMatchObject({ code: 'not_found' });
    // A model of the same name in carol's own team is hers alone.
    const own = await platform.models.register(carol, {
      name: 'legal-answerer',
      source: `path:${benignDir}`,
    });
    expect(own).toMatchObject({ team: 'search', version: 1 });
    const admin = await actorFor('admin');
    await expect(platform.models.show(admin, 'legal-answerer')).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect((await platform.models.show(admin, 'legal-answerer', { team: 'search' })).team).toBe('search');
  });
});
