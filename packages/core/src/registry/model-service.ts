import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Job,
  type Model,
  type ModelDetail,
  type ModelLineage,
  ModelName,
  type ModelQuery,
  ModelRuntime,
  type ModelScan,
  type ModelVersion,
  RegisterModelRequest,
  type ScanVerdict,
} from '@aicloud/contracts';
import { type Selectable, sql } from 'kysely';
import { checkPolicy, refusingHit } from '../admission/policy-check.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import { fromMicros } from '../money.ts';
import type { Authorizer } from '../ports/authorizer.ts';
import { jobPaths } from '../runner/job-paths.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';
import {
  ARTIFACT_RULES,
  type ArtifactSource,
  DEFAULT_IMPORT_MAX_BYTES,
  storeArtifact,
} from './artifact-store.ts';
import { type ModelSourceRef, parseModelSource, SOURCE_RULES } from './model-source.ts';
import { registerModelRequest } from './register-policy.ts';
import { summarizeScan } from './scanner/index.ts';

type ModelRow = Selectable<Database['models']>;
type VersionRow = Selectable<Database['model_versions']>;

/** The runtime a version gets when the request names none. */
export const DEFAULT_RUNTIME = { local: 'aicloud-tiny', hf: 'vllm' } as const;

/** Who a registration is made as: a caller, or the platform on a job's behalf. */
interface Registrant {
  /** The audit actor: a user's name, or `system` when the platform registers a job's output itself. */
  userName: string;
  requestId: string | null;
  system: boolean;
}

const SYSTEM: Registrant = { userName: 'system', requestId: null, system: true };

/** The model registry: models, immutable scanned versions, aliases and lineage. */
export interface ModelService {
  /** Registers the next version of a model (creating the model on its first version). */
  register(actor: Actor, request: RegisterModelRequest): Promise<ModelVersion>;
  /**
   * Registers a succeeded job's output dir as the next version of the model it names (`aicloud.model` in
   * `output/MODEL`, else the job's name). Idempotent per job. Without an actor, the platform registers it.
   */
  registerJobOutput(jobId: string, actor?: Actor): Promise<ModelVersion>;
  /**
   * Registers files the platform holds for an MLflow run (`runs:/<run_id>/<path>`) as the next version of a
   * team's model: the same `register_model` question (source kind `run`), copy and scan; the version records
   * the run (`run_id`) and, in its lineage, the run's job and datasets.
   */
  registerRunArtifact(actor: Actor, request: RunArtifactRegistration): Promise<ModelVersion>;
  /** Registers a succeeded fine-tune's output, if it wrote any (the job runner's end hook); never throws. */
  onJobEnded(job: Job): Promise<void>;
  list(actor: Actor, query?: ModelQuery): Promise<Model[]>;
  show(actor: Actor, name: string, query?: ModelQuery): Promise<ModelDetail>;
  versions(actor: Actor, name: string, query?: ModelQuery): Promise<ModelVersion[]>;
  /** One version by number or alias. */
  version(actor: Actor, name: string, ref: string | number, query?: ModelQuery): Promise<ModelVersion>;
  /** Points an alias at a version (moving it if it pointed elsewhere). */
  setAlias(actor: Actor, name: string, alias: string, version: number, query?: ModelQuery): Promise<Model>;
  /** The chain dataset → job → model version → endpoints, for `NAME@VERSION` (a number or an alias). */
  lineage(actor: Actor, ref: string, query?: ModelQuery): Promise<ModelLineage>;
}

/** An MLflow run's artifact to register (`ModelService.registerRunArtifact`). */
export interface RunArtifactRegistration {
  team: string;
  name: string;
  /** The source as the version shows it (`runs:/<run_id>/<path>`). */
  source: string;
  runId: string;
  /** The run's artifact root on the server: links are followed only inside it. */
  root: string;
  /** The file or directory under the root, relative (already checked against traversal). */
  path: string;
  /** The job the run records, if any, and the datasets it read (the version's lineage). */
  jobId: string | null;
  datasets: string[];
  metrics: Record<string, number>;
  tags: Record<string, string>;
  description: string | null;
}

/** What the service needs. */
export interface ModelServiceDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  dataDir: string;
  /**
   * Extra directories each team may register `path:` sources from (team → absolute dirs). Every team may
   * always use `<dataDir>/imports/<team>`; nothing else on the server is readable as a source.
   */
  importRoots?: Record<string, string[]> | undefined;
  /** The cap on the bytes one registration copies (default 20 GiB). */
  importMaxBytes?: number | undefined;
  /** The policy engine every registration by a user is checked against (`register_model`). */
  authorizer: Authorizer;
}

/** The directories a team may register `path:` sources from: the configured ones, then the default. */
export function importRootsOf(
  dataDir: string,
  team: string,
  configured: Record<string, string[]> = {},
): string[] {
  return [...(Object.hasOwn(configured, team) ? configured[team]! : []), join(dataDir, 'imports', team)];
}

function issuesOf(error: { issues: { path: PropertyKey[]; message: string }[] }) {
  return error.issues.map((issue) => ({
    path: issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)) as (string | number)[],
    message: issue.message,
  }));
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23505' || (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT'));
}

/** Reads the model name (and runtime) a job asked for in `output/MODEL`: a name, `key=value` lines or JSON. */
export function readModelFile(text: string): { name?: string; runtime?: string } {
  const pick = (entries: Record<string, unknown>) => {
    const name = entries['aicloud.model'] ?? entries.model ?? entries.name;
    const runtime = entries['aicloud.runtime'] ?? entries.runtime;
    return {
      ...(typeof name === 'string' ? { name: name.trim() } : {}),
      ...(typeof runtime === 'string' ? { runtime: runtime.trim() } : {}),
    };
  };
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return pick(JSON.parse(trimmed) as Record<string, unknown>);
    } catch {
      return {};
    }
  }
  const entries: Record<string, string> = {};
  for (const line of trimmed.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z0-9_.-]+)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (match) entries[match[1]!] = match[2]!.replace(/^["']|["']$/g, '');
  }
  if (Object.keys(entries).length > 0) return pick(entries);
  const first = trimmed.split(/\r?\n/)[0]?.trim();
  return first ? { name: first } : {};
}

/** The largest `output/MODEL` file read (a name and a runtime). */
const MAX_MODEL_FILE = 64 * 1024;

/**
 * Reads a job's `output/MODEL` without following a link (a job could point it at any file the server can
 * read and see it echoed in an error); null when absent.
 */
function readJobModelFile(file: string, jobId: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP')
      throw new AppError(
        'forbidden',
        `the output of job ${jobId} holds a symbolic link MODEL; outputs are registered without following links (rule ${ARTIFACT_RULES.jobOutputSymlink}), so nothing was registered: write the files themselves into $AICLOUD_OUTPUT_DIR (copy, do not link)`,
        { details: { rule: ARTIFACT_RULES.jobOutputSymlink, path: 'MODEL' } },
      );
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile())
      throw new AppError(
        'invalid_input',
        `the output of job ${jobId}: MODEL is not a regular file (rule ${ARTIFACT_RULES.specialFile})`,
        { details: { rule: ARTIFACT_RULES.specialFile, path: 'MODEL' } },
      );
    const buffer = Buffer.alloc(Math.min(stats.size, MAX_MODEL_FILE));
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Creates the model registry. */
export function createModelService(deps: ModelServiceDeps): ModelService {
  const { store, audit, clock, dataDir } = deps;
  const importMaxBytes = deps.importMaxBytes ?? DEFAULT_IMPORT_MAX_BYTES;
  const db = store.db;

  async function aliasesOf(modelIds: string[]) {
    if (modelIds.length === 0) return [];
    return db.selectFrom('model_aliases').selectAll().where('model_id', 'in', modelIds).execute();
  }

  function toVersion(model: ModelRow, row: VersionRow, aliases: string[]): ModelVersion {
    return {
      model: model.name,
      team: model.team,
      version: row.version,
      source: row.source,
      runtime: row.runtime,
      files: JSON.parse(row.files) as ModelVersion['files'],
      digest: row.digest,
      artifactDir: row.artifact_dir,
      metrics: JSON.parse(row.metrics) as Record<string, number>,
      tags: JSON.parse(row.tags) as Record<string, string>,
      scan: JSON.parse(row.scan) as ModelScan,
      scanVerdict: row.scan_verdict as ScanVerdict,
      trustRemoteCode: row.trust_remote_code === 1,
      lineage: JSON.parse(row.lineage) as ModelVersion['lineage'],
      aliases: aliases.sort(),
      createdBy: row.created_by,
      createdAt: row.created_at,
    };
  }

  async function toModels(rows: ModelRow[]): Promise<Model[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const stats = await db
      .selectFrom('model_versions')
      .select((eb) => ['model_id', eb.fn.max('version').as('latest'), eb.fn.countAll().as('count')])
      .where('model_id', 'in', ids)
      .groupBy('model_id')
      .execute();
    const aliases = await aliasesOf(ids);
    return rows.map((row) => {
      const stat = stats.find((candidate) => candidate.model_id === row.id);
      return {
        id: row.id,
        name: row.name,
        team: row.team,
        latestVersion: stat?.latest == null ? null : Number(stat.latest),
        versionCount: Number(stat?.count ?? 0),
        aliases: Object.fromEntries(
          aliases
            .filter((alias) => alias.model_id === row.id)
            .sort((a, b) => a.alias.localeCompare(b.alias))
            .map((alias) => [alias.alias, alias.version]),
        ),
        createdBy: row.created_by,
        createdAt: row.created_at,
      };
    });
  }

  /** The model a caller means by a name; absent and invisible read the same. */
  async function findModel(actor: Actor, name: string, query: ModelQuery = {}): Promise<ModelRow> {
    const { principal } = actor;
    if (query.team && !canSeeTeam(principal, query.team)) throw notFound('model', name);
    let select = db.selectFrom('models').selectAll().where('name', '=', name);
    if (query.team) select = select.where('team', '=', query.team);
    const rows = (await select.execute()).filter((row) => canSeeTeam(principal, row.team));
    if (rows.length === 0) throw notFound('model', name);
    if (rows.length > 1)
      throw new AppError(
        'invalid_input',
        `model ${name} exists in teams ${rows.map((row) => row.team).join(', ')}: pass --team`,
        { issues: [{ path: ['team'], message: 'required' }] },
      );
    return rows[0]!;
  }

  async function versionRow(model: ModelRow, ref: string | number): Promise<VersionRow> {
    let number: number;
    if (typeof ref === 'number' || /^\d+$/.test(ref)) {
      number = Number(ref);
    } else {
      const alias = await db
        .selectFrom('model_aliases')
        .select('version')
        .where('model_id', '=', model.id)
        .where('alias', '=', ref)
        .executeTakeFirst();
      if (!alias) throw notFound('model version', `${model.name}@${ref}`);
      number = alias.version;
    }
    const row = await db
      .selectFrom('model_versions')
      .selectAll()
      .where('model_id', '=', model.id)
      .where('version', '=', number)
      .executeTakeFirst();
    if (!row) throw notFound('model version', `${model.name}@${ref}`);
    return row;
  }

  async function versionOut(model: ModelRow, row: VersionRow): Promise<ModelVersion> {
    const aliases = (await aliasesOf([model.id]))
      .filter((alias) => alias.version === row.version)
      .map((alias) => alias.alias);
    return toVersion(model, row, aliases);
  }

  async function refuse(who: Registrant, team: string | null, name: string, message: string, details = {}) {
    await audit.record({
      actor: who.userName,
      action: 'model.register',
      resource: `model/${team ?? '?'}/${name}`,
      team,
      outcome: 'deny',
      requestId: who.requestId,
      details: { reason: message, ...details },
    });
  }

  /** Asks Cedar whether the caller may register this version (`register_model`); records and throws a refusal. */
  async function admit(
    actor: Actor,
    who: Registrant,
    version: { team: string; model: string; source: ModelSourceRef; trustRemoteCode: boolean },
  ): Promise<void> {
    const decision = checkPolicy(deps.authorizer, registerModelRequest(actor, version));
    const hit = refusingHit(decision);
    if (!hit) return;
    const raw = version.source.kind === 'hf' ? `hf://${version.source.repo}` : null;
    const message =
      hit.policyId === SOURCE_RULES.trustRemoteCodePinned
        ? `trust_remote_code runs the model's own Python code, so it is refused for a source not pinned to a commit (rule ${SOURCE_RULES.trustRemoteCodePinned}): write ${raw ?? 'the source'}@<40-character commit sha>`
        : hit.reason;
    await refuse(who, version.team, version.model, message, {
      rule: hit.policyId,
      policySetDigest: decision.policySetDigest,
    });
    throw new AppError(hit.policyId === 'default-deny' ? 'forbidden' : 'policy_denied', message, {
      details: { rule: hit.policyId },
    });
  }

  /** Inserts the next version in one transaction with its audit record; creates the model on first use. */
  async function insertVersion(
    who: Registrant,
    team: string,
    name: string,
    fields: Omit<
      VersionRow,
      'model_id' | 'version' | 'created_by' | 'created_at' | 'description' | 'run_id' | 'updated_at'
    > &
      Partial<Pick<VersionRow, 'description' | 'run_id'>>,
    createdBy: string,
  ): Promise<{ model: ModelRow; row: VersionRow }> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await db.transaction().execute(async (trx) => {
          let model = await trx
            .selectFrom('models')
            .selectAll()
            .where('team', '=', team)
            .where('name', '=', name)
            .executeTakeFirst();
          const created = !model;
          if (!model) {
            model = {
              id: newId('mdl'),
              name,
              team,
              created_by: createdBy,
              created_at: isoNow(clock),
              description: null,
              tags: null,
              updated_at: null,
            };
            await trx.insertInto('models').values(model).execute();
          }
          if (fields.source.startsWith('job:')) {
            const existing = await trx
              .selectFrom('model_versions')
              .selectAll()
              .where('model_id', '=', model.id)
              .where('source', '=', fields.source)
              .executeTakeFirst();
            if (existing) return { model, row: existing };
          }
          const last = await trx
            .selectFrom('model_versions')
            .select((eb) => eb.fn.max('version').as('latest'))
            .where('model_id', '=', model.id)
            .executeTakeFirst();
          const row: VersionRow = {
            ...fields,
            model_id: model.id,
            version: Number(last?.latest ?? 0) + 1,
            created_by: createdBy,
            created_at: isoNow(clock),
            description: fields.description ?? null,
            run_id: fields.run_id ?? null,
            updated_at: null,
          };
          await trx.insertInto('model_versions').values(row).execute();
          await audit.append(trx, {
            actor: who.userName,
            action: 'model.registered',
            resource: `model/${team}/${name}@${row.version}`,
            team,
            outcome: 'success',
            requestId: who.requestId,
            details: {
              modelId: model.id,
              createdModel: created,
              version: row.version,
              source: row.source,
              runtime: row.runtime,
              digest: row.digest,
              files: (JSON.parse(row.files) as unknown[]).length,
              scanVerdict: row.scan_verdict,
              trustRemoteCode: row.trust_remote_code === 1,
              lineage: JSON.parse(row.lineage) as unknown,
              ...(row.run_id ? { runId: row.run_id } : {}),
            },
          });
          return { model, row };
        });
      } catch (error) {
        if (attempt < 3 && isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  /** Copies and scans a source into the artifact store, as the fields of a version row. */
  async function fromLocal(source: ArtifactSource, trustRemoteCode: boolean) {
    const stored = await storeArtifact({
      dataDir,
      source,
      maxBytes: importMaxBytes,
      scan: { trustRemoteCode },
    });
    return {
      files: JSON.stringify(stored.scan.files.map(({ path, sha256, size }) => ({ path, sha256, size }))),
      digest: stored.digest,
      artifact_dir: stored.artifactDir,
      scan: JSON.stringify(stored.scan),
      scan_verdict: stored.scan.verdict,
    };
  }

  async function lastMetrics(jobId: string): Promise<Record<string, number>> {
    const rows = await db
      .selectFrom('job_metrics')
      .select(['name', 'value'])
      .where('job_id', '=', jobId)
      .orderBy('seq')
      .execute();
    const metrics: Record<string, number> = {};
    for (const row of rows) metrics[row.name] = Number(row.value);
    return metrics;
  }

  function outputFiles(jobId: string): string[] {
    const dir = jobPaths(dataDir, jobId).outputDir;
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  async function registerFromJob(
    who: Registrant,
    jobId: string,
    options: {
      visible?: (team: string) => boolean;
      /** Asks the policy engine once the team and name are known; throws the refusal. */
      admit?: (team: string, name: string) => Promise<void>;
      name?: string;
      team?: string;
      runtime?: string;
      metrics?: Record<string, number>;
      tags?: Record<string, string>;
      trustRemoteCode?: boolean;
    },
  ): Promise<ModelVersion> {
    const job = await db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
    if (!job || (options.visible && !options.visible(job.team))) throw notFound('job', jobId);
    if (options.team && options.team !== job.team)
      throw new AppError(
        'invalid_input',
        `job ${jobId} belongs to team ${job.team}; its output registers as a model of that team`,
        { issues: [{ path: ['team'], message: `must be ${job.team}` }] },
      );
    if (job.status !== 'succeeded')
      throw new AppError(
        'conflict',
        `job ${jobId} is ${job.status}; only a succeeded job's output can be registered as a model version`,
      );
    const paths = jobPaths(dataDir, jobId);
    if (outputFiles(jobId).length === 0)
      throw new AppError(
        'invalid_input',
        `job ${jobId} wrote nothing to its output dir ($AICLOUD_OUTPUT_DIR, ${paths.outputDir})`,
      );
    const modelText = readJobModelFile(join(paths.outputDir, 'MODEL'), jobId);
    const declared = modelText === null ? {} : readModelFile(modelText);
    const name = options.name ?? declared.name ?? job.name;
    const parsedName = ModelName.safeParse(name);
    if (!parsedName.success)
      throw new AppError('invalid_input', `model name '${name}' from job ${jobId} is not valid`, {
        issues: issuesOf(parsedName.error),
      });
    const runtime = options.runtime ?? declared.runtime ?? DEFAULT_RUNTIME.local;
    const parsedRuntime = ModelRuntime.safeParse(runtime);
    if (!parsedRuntime.success)
      throw new AppError('invalid_input', `runtime '${runtime}' is not valid`, {
        issues: issuesOf(parsedRuntime.error),
      });
    await options.admit?.(job.team, name);
    const source = `job:${jobId}`;
    const existing = await db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .selectAll('model_versions')
      .where('models.team', '=', job.team)
      .where('models.name', '=', name)
      .where('model_versions.source', '=', source)
      .executeTakeFirst();
    const model = existing
      ? await db
          .selectFrom('models')
          .selectAll()
          .where('id', '=', existing.model_id)
          .executeTakeFirstOrThrow()
      : null;
    if (existing && model) return versionOut(model, existing);
    let stored: Awaited<ReturnType<typeof fromLocal>>;
    try {
      stored = await fromLocal(
        { kind: 'job-output', dir: paths.outputDir, jobId },
        options.trustRemoteCode ?? false,
      );
    } catch (error) {
      if (error instanceof AppError)
        await refuse(who, job.team, name, error.message, { source, ...(error.details ?? {}) });
      throw error;
    }
    const inserted = await insertVersion(
      who,
      job.team,
      name,
      {
        source,
        runtime,
        ...stored,
        metrics: JSON.stringify({ ...(await lastMetrics(jobId)), ...(options.metrics ?? {}) }),
        tags: JSON.stringify({ ...(options.tags ?? {}) }),
        trust_remote_code: options.trustRemoteCode ? 1 : 0,
        lineage: JSON.stringify({ datasets: JSON.parse(job.datasets) as string[], jobId }),
      },
      who.system ? job.owner : who.userName,
    );
    return versionOut(inserted.model, inserted.row);
  }

  async function endpointsServing(model: ModelRow, version: number): Promise<ModelLineage['endpoints']> {
    const exists =
      store.dialect === 'sqlite'
        ? await sql<{
            name: string;
          }>`select name from sqlite_master where type = 'table' and name = 'endpoints'`.execute(db)
        : await sql<{
            name: string;
          }>`select table_name as name from information_schema.tables where table_name = 'endpoints' and table_schema = current_schema()`.execute(
            db,
          );
    if (exists.rows.length === 0) return [];
    const rows = (await sql<Record<string, unknown>>`select * from endpoints`.execute(db)).rows;
    return rows
      .filter((row) => {
        const sameModel =
          row.model_id === model.id ||
          ((row.model === model.name || row.model_name === model.name) &&
            (row.team ?? model.team) === model.team);
        const rowVersion = row.version ?? row.model_version;
        return sameModel && Number(rowVersion) === version;
      })
      .map((row) => ({
        name: String(row.name ?? row.id),
        status: typeof row.status === 'string' ? row.status : null,
      }));
  }

  return {
    async register(actor, request) {
      const who: Registrant = {
        userName: actor.principal.userName,
        requestId: actor.requestId,
        system: false,
      };
      const parsed = RegisterModelRequest.safeParse(request);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        throw new AppError(
          'invalid_input',
          `invalid request: ${first?.path.join('.') ?? ''} ${first?.message ?? ''}`,
          {
            issues: issuesOf(parsed.error),
          },
        );
      }
      const ask = parsed.data;
      const teams = [...actor.principal.teams.keys()];
      let source: ModelSourceRef;
      try {
        source = parseModelSource(ask.source);
      } catch (error) {
        await refuse(who, ask.team ?? null, ask.name, (error as Error).message, { source: ask.source });
        throw error;
      }
      if (source.kind === 'job') {
        return registerFromJob(who, source.jobId, {
          visible: (team) => canSeeTeam(actor.principal, team),
          admit: (team, name) =>
            admit(actor, who, { team, model: name, source, trustRemoteCode: ask.trustRemoteCode }),
          name: ask.name,
          ...(ask.team ? { team: ask.team } : {}),
          ...(ask.runtime ? { runtime: ask.runtime } : {}),
          metrics: ask.metrics,
          tags: ask.tags,
          trustRemoteCode: ask.trustRemoteCode,
        });
      }
      const team = ask.team ?? (teams.length === 1 ? teams[0] : undefined);
      if (!team)
        throw new AppError(
          'invalid_input',
          teams.length === 0
            ? 'you are not in any team; pass --team (platform-admins) or ask to be added to one'
            : `you are in several teams (${teams.join(', ')}): pass --team`,
          { issues: [{ path: ['team'], message: 'required' }] },
        );
      if (!canSeeTeam(actor.principal, team)) {
        await refuse(who, team, ask.name, `not a member of team ${team}`);
        throw notFound('team', team);
      }
      const teamRow = await db.selectFrom('teams').select('name').where('name', '=', team).executeTakeFirst();
      if (!teamRow) throw notFound('team', team);
      await admit(actor, who, { team, model: ask.name, source, trustRemoteCode: ask.trustRemoteCode });
      let stored: Pick<VersionRow, 'files' | 'digest' | 'artifact_dir' | 'scan' | 'scan_verdict'>;
      if (source.kind === 'path') {
        try {
          stored = await fromLocal(
            {
              kind: 'path',
              path: source.path,
              roots: importRootsOf(dataDir, team, deps.importRoots),
              forbidden: [dataDir],
            },
            ask.trustRemoteCode,
          );
        } catch (error) {
          if (error instanceof AppError)
            await refuse(who, team, ask.name, error.message, {
              source: ask.source,
              ...(error.details ?? {}),
            });
          throw error;
        }
      } else {
        const scan = summarizeScan(
          [],
          [
            `the artifact of ${ask.source} could not be fetched in this environment (no access to the Hugging Face Hub); scan it before deploying`,
          ],
          'needs_review',
        );
        stored = {
          files: '[]',
          digest: null,
          artifact_dir: null,
          scan: JSON.stringify(scan),
          scan_verdict: scan.verdict,
        };
      }
      const runtime = ask.runtime ?? (source.kind === 'hf' ? DEFAULT_RUNTIME.hf : DEFAULT_RUNTIME.local);
      const { model, row } = await insertVersion(
        who,
        team,
        ask.name,
        {
          source: ask.source,
          runtime,
          ...stored,
          metrics: JSON.stringify(ask.metrics),
          tags: JSON.stringify(ask.tags),
          trust_remote_code: ask.trustRemoteCode ? 1 : 0,
          lineage: JSON.stringify({ datasets: [], jobId: null }),
        },
        actor.principal.userName,
      );
      return versionOut(model, row);
    },

    async registerRunArtifact(actor, request) {
      const who: Registrant = {
        userName: actor.principal.userName,
        requestId: actor.requestId,
        system: false,
      };
      const { team, name } = request;
      const parsedName = ModelName.safeParse(name);
      if (!parsedName.success)
        throw new AppError('invalid_input', `model name '${name}' is not valid`, {
          issues: issuesOf(parsedName.error),
        });
      if (!canSeeTeam(actor.principal, team)) throw notFound('team', team);
      await admit(actor, who, {
        team,
        model: name,
        source: { kind: 'run', runId: request.runId },
        trustRemoteCode: false,
      });
      let stored: Awaited<ReturnType<typeof fromLocal>>;
      try {
        stored = await fromLocal(
          {
            kind: 'path',
            path: join(request.root, request.path),
            roots: [request.root],
            forbidden: [],
            requireOthersReadable: false,
          },
          false,
        );
      } catch (error) {
        if (error instanceof AppError)
          await refuse(who, team, name, error.message, { source: request.source, ...(error.details ?? {}) });
        throw error;
      }
      const { model, row } = await insertVersion(
        who,
        team,
        name,
        {
          source: request.source,
          runtime: DEFAULT_RUNTIME.local,
          ...stored,
          metrics: JSON.stringify(request.metrics),
          tags: JSON.stringify(request.tags),
          trust_remote_code: 0,
          lineage: JSON.stringify({ datasets: request.datasets, jobId: request.jobId }),
          run_id: request.runId,
          description: request.description,
        },
        actor.principal.userName,
      );
      return versionOut(model, row);
    },

    registerJobOutput(jobId, actor) {
      if (actor)
        return registerFromJob(
          { userName: actor.principal.userName, requestId: actor.requestId, system: false },
          jobId,
          {
            visible: (team) => canSeeTeam(actor.principal, team),
            admit: (team, name) =>
              admit(
                actor,
                { userName: actor.principal.userName, requestId: actor.requestId, system: false },
                {
                  team,
                  model: name,
                  source: { kind: 'job', jobId },
                  trustRemoteCode: false,
                },
              ),
          },
        );
      return registerFromJob(SYSTEM, jobId, {});
    },

    async onJobEnded(job) {
      if (job.kind !== 'fine-tune' || job.status !== 'succeeded' || outputFiles(job.id).length === 0) return;
      try {
        await registerFromJob(SYSTEM, job.id, {});
      } catch (error) {
        process.stderr.write(
          `model registry: job ${job.id} output not registered: ${(error as Error).message}\n`,
        );
      }
    },

    async list({ principal }, query = {}) {
      let select = db.selectFrom('models').selectAll().orderBy('team').orderBy('name');
      if (query.team) {
        if (!canSeeTeam(principal, query.team)) throw notFound('team', query.team);
        select = select.where('team', '=', query.team);
      } else if (!principal.platformAdmin) {
        const teams = [...principal.teams.keys()];
        if (teams.length === 0) return [];
        select = select.where('team', 'in', teams);
      }
      return toModels(await select.execute());
    },

    async show(actor, name, query) {
      const model = await findModel(actor, name, query);
      const [summary] = await toModels([model]);
      const latest =
        summary!.latestVersion === null
          ? null
          : await versionOut(model, await versionRow(model, summary!.latestVersion));
      return { ...summary!, latest };
    },

    async versions(actor, name, query) {
      const model = await findModel(actor, name, query);
      const rows = await db
        .selectFrom('model_versions')
        .selectAll()
        .where('model_id', '=', model.id)
        .orderBy('version')
        .execute();
      const aliases = await aliasesOf([model.id]);
      return rows.map((row) =>
        toVersion(
          model,
          row,
          aliases.filter((alias) => alias.version === row.version).map((alias) => alias.alias),
        ),
      );
    },

    async version(actor, name, ref, query) {
      const model = await findModel(actor, name, query);
      return versionOut(model, await versionRow(model, ref));
    },

    async setAlias(actor, name, alias, version, query) {
      const model = await findModel(actor, name, query);
      if (!/^[a-z][a-z0-9-]{0,39}$/.test(alias) || /^\d+$/.test(alias))
        throw new AppError(
          'invalid_input',
          `alias '${alias}' is not valid: lower-case letters, digits and dashes`,
          {
            issues: [{ path: ['alias'], message: 'invalid' }],
          },
        );
      const row = await versionRow(model, version);
      await db.transaction().execute(async (trx) => {
        const previous = await trx
          .selectFrom('model_aliases')
          .select('version')
          .where('model_id', '=', model.id)
          .where('alias', '=', alias)
          .executeTakeFirst();
        const values = {
          model_id: model.id,
          alias,
          version: row.version,
          updated_by: actor.principal.userName,
          updated_at: isoNow(clock),
        };
        if (previous)
          await trx
            .updateTable('model_aliases')
            .set({ version: values.version, updated_by: values.updated_by, updated_at: values.updated_at })
            .where('model_id', '=', model.id)
            .where('alias', '=', alias)
            .execute();
        else await trx.insertInto('model_aliases').values(values).execute();
        await audit.append(trx, {
          actor: actor.principal.userName,
          action: 'model.alias_set',
          resource: `model/${model.team}/${model.name}`,
          team: model.team,
          outcome: 'success',
          requestId: actor.requestId,
          details: { alias, version: row.version, previous: previous?.version ?? null },
        });
      });
      const [summary] = await toModels([model]);
      return summary!;
    },

    async lineage(actor, ref, query) {
      const at = ref.lastIndexOf('@');
      if (at <= 0 || at === ref.length - 1)
        throw new AppError('invalid_input', `'${ref}' is not NAME@VERSION (a version number or an alias)`);
      const model = await findModel(actor, ref.slice(0, at), query);
      const row = await versionRow(model, ref.slice(at + 1));
      const lineage = JSON.parse(row.lineage) as ModelVersion['lineage'];
      const datasetRows =
        lineage.datasets.length === 0
          ? []
          : await db.selectFrom('datasets').selectAll().where('path', 'in', lineage.datasets).execute();
      const job = lineage.jobId
        ? await db.selectFrom('jobs').selectAll().where('id', '=', lineage.jobId).executeTakeFirst()
        : undefined;
      return {
        model: model.name,
        team: model.team,
        version: row.version,
        source: row.source,
        scanVerdict: row.scan_verdict as ScanVerdict,
        datasets: lineage.datasets.map((path) => {
          const dataset = datasetRows.find((candidate) => candidate.path === path);
          return {
            path,
            registered: Boolean(dataset),
            classification: dataset?.classification ?? null,
            location: dataset?.location ?? null,
            encrypted: dataset ? dataset.encrypted === 1 : null,
          };
        }),
        job: job
          ? {
              id: job.id,
              name: job.name,
              product: job.product,
              owner: job.owner,
              status: job.status,
              cost: fromMicros(Number(job.cost_micros)),
            }
          : null,
        endpoints: await endpointsServing(model, row.version),
      };
    },
  };
}
