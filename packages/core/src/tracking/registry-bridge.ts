import { ModelName } from '@aicloud/contracts';
import type { AuditService } from '../audit/audit-service.ts';
import { type Clock, isoNow } from '../clock.ts';
import { type Actor, canSeeTeam, teamsToList } from '../identity/principal.ts';
import { newId } from '../ids.ts';
import type { ModelService } from '../registry/model-service.ts';
import type { Store } from '../store/open-store.ts';
import { mlflowError } from './mlflow-error.ts';
import {
  type MlflowInput,
  optionalInteger,
  optionalObjectList,
  optionalString,
  optionalStringList,
  requiredString,
} from './mlflow-input.ts';
import {
  AICLOUD_TAG_PREFIX,
  type MlflowModelVersion,
  type MlflowRegisteredModel,
  type ModelRow,
  registeredModelJson,
  type VersionRow,
  versionJson,
} from './registry-json.ts';
import { registerFromRun, runSourceOf } from './registry-run-source.ts';
import { MODEL_FILTER_SCHEMA, searchEntries, VERSION_FILTER_SCHEMA } from './registry-search.ts';
import { TEAM_TAG } from './tracking-service.ts';
import { offsetOf, pageToken } from './tracking-store.ts';

/**
 * MLflow's model registry API over aicloud's registry (one registry, two APIs): registered models are
 * aicloud's models, versions its scanned immutable versions, aliases its aliases.
 */
export interface RegistryBridge {
  createRegisteredModel(
    actor: Actor,
    input: MlflowInput,
  ): Promise<{ registered_model: MlflowRegisteredModel }>;
  getRegisteredModel(actor: Actor, input: MlflowInput): Promise<{ registered_model: MlflowRegisteredModel }>;
  searchRegisteredModels(
    actor: Actor,
    input: MlflowInput,
  ): Promise<{ registered_models: MlflowRegisteredModel[]; next_page_token?: string }>;
  /** Sets the description (the only mutable field of a model besides its name). */
  updateRegisteredModel(
    actor: Actor,
    input: MlflowInput,
  ): Promise<{ registered_model: MlflowRegisteredModel }>;
  /** Renames a model no live endpoint serves (an endpoint names its model). */
  renameRegisteredModel(
    actor: Actor,
    input: MlflowInput,
  ): Promise<{ registered_model: MlflowRegisteredModel }>;
  /** Deletes a model, its versions and aliases, unless a live endpoint serves one of them. */
  deleteRegisteredModel(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  getLatestVersions(actor: Actor, input: MlflowInput): Promise<{ model_versions: MlflowModelVersion[] }>;
  setAlias(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  deleteAlias(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  getByAlias(actor: Actor, input: MlflowInput): Promise<{ model_version: MlflowModelVersion }>;
  /** Registers a run's artifact (`runs:/…`, `mlflow-artifacts:/…`) or an aicloud source as the next version. */
  createModelVersion(actor: Actor, input: MlflowInput): Promise<{ model_version: MlflowModelVersion }>;
  getModelVersion(actor: Actor, input: MlflowInput): Promise<{ model_version: MlflowModelVersion }>;
  searchModelVersions(
    actor: Actor,
    input: MlflowInput,
  ): Promise<{ model_versions: MlflowModelVersion[]; next_page_token?: string }>;
  updateModelVersion(actor: Actor, input: MlflowInput): Promise<{ model_version: MlflowModelVersion }>;
  /** Deletes a version (and the aliases on it) unless a live endpoint serves it. */
  deleteModelVersion(actor: Actor, input: MlflowInput): Promise<Record<string, never>>;
  /** Where the version's registered files download from (the artifact proxy). */
  getDownloadUri(actor: Actor, input: MlflowInput): Promise<{ artifact_uri: string }>;
  /** The directory of a version's registered copy (`mlflow-artifacts:/models/<model_id>/<version>`). */
  versionArtifactDir(actor: Actor, modelId: string, version: number): Promise<string>;
}

/** What the bridge needs. */
export interface RegistryBridgeDeps {
  store: Store;
  audit: AuditService;
  clock: Clock;
  models: ModelService;
}

const EMPTY: Record<string, never> = {};
const MODELS_PAGE = { default: 100, max: 1000 };
const VERSIONS_PAGE = { default: 10_000, max: 200_000 };
const invalid = (message: string) => mlflowError('INVALID_PARAMETER_VALUE', message);

/** Where a registered version's own files download from through the artifact proxy. */
export function versionArtifactUri(model: ModelRow, version: number): string {
  return `mlflow-artifacts:/models/${model.id}/${version}`;
}

function pageSize(input: MlflowInput, limits: { default: number; max: number }): number {
  const max = optionalInteger(input, 'max_results') ?? limits.default;
  if (max <= 0 || max > limits.max)
    throw invalid(
      `Invalid value for request parameter max_results. It must be at most ${limits.max}, but got value ${max}`,
    );
  return max;
}

function versionNumber(input: MlflowInput): number {
  const text = requiredString(input, 'version');
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw invalid(`Parameter 'version' must be an integer, got '${text}'.`);
  return Number(text);
}

/** A client's tags: MLflow's `[{key, value}]`, within aicloud's bounds; `aicloud.*` are the platform's. */
function clientTags(input: MlflowInput): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const tag of optionalObjectList(input, 'tags')) {
    const key = typeof tag.key === 'string' ? tag.key : '';
    const value = typeof tag.value === 'string' ? tag.value : tag.value == null ? '' : String(tag.value);
    if (key === '' || key.length > 64) throw invalid(`Tag key '${key}' must be 1 to 64 characters`);
    if (value.length > 256) throw invalid(`Tag '${key}': the value is longer than 256 characters`);
    if (key.startsWith(AICLOUD_TAG_PREFIX) && key !== TEAM_TAG)
      throw invalid(`Tag '${key}': tags starting with '${AICLOUD_TAG_PREFIX}' are set by the platform`);
    tags[key] = value;
  }
  return tags;
}

/** Creates the MLflow registry bridge. */
export function createRegistryBridge(deps: RegistryBridgeDeps): RegistryBridge {
  const { store, audit, clock } = deps;
  const db = store.db;

  /** The model a caller means: `NAME` in their one team that has it, or `TEAM/NAME`; invisible is absent. */
  async function findModel(actor: Actor, fullName: string): Promise<ModelRow> {
    const slash = fullName.indexOf('/');
    const team = slash > 0 ? fullName.slice(0, slash) : null;
    const name = slash > 0 ? fullName.slice(slash + 1) : fullName;
    let query = db.selectFrom('models').selectAll().where('name', '=', name);
    if (team) query = query.where('team', '=', team);
    const rows = (await query.execute()).filter((row) => canSeeTeam(actor.principal, row.team));
    if (rows.length === 0)
      throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${fullName} not found`);
    if (rows.length > 1)
      throw invalid(
        `Registered model ${name} exists in teams ${rows.map((row) => row.team).join(', ')}: name it TEAM/${name}`,
      );
    return rows[0]!;
  }

  async function findVersion(model: ModelRow, version: number): Promise<VersionRow> {
    const row = await db
      .selectFrom('model_versions')
      .selectAll()
      .where('model_id', '=', model.id)
      .where('version', '=', version)
      .executeTakeFirst();
    if (!row)
      throw mlflowError(
        'RESOURCE_DOES_NOT_EXIST',
        `Model Version (name=${model.name}, version=${version}) not found`,
      );
    return row;
  }

  async function aliasesOf(modelIds: string[]) {
    if (modelIds.length === 0) return [];
    return db
      .selectFrom('model_aliases')
      .select(['model_id', 'alias', 'version'])
      .where('model_id', 'in', modelIds)
      .execute();
  }

  async function modelJson(model: ModelRow): Promise<MlflowRegisteredModel> {
    const latest = await db
      .selectFrom('model_versions')
      .selectAll()
      .where('model_id', '=', model.id)
      .orderBy('version', 'desc')
      .executeTakeFirst();
    return registeredModelJson(model, latest ?? null, await aliasesOf([model.id]));
  }

  async function oneVersionJson(model: ModelRow, row: VersionRow): Promise<MlflowModelVersion> {
    const aliases = (await aliasesOf([model.id])).filter((alias) => alias.version === row.version);
    return versionJson(
      model,
      row,
      aliases.map((alias) => alias.alias),
    );
  }

  /** The models (with their versions and aliases) every team of the caller holds. */
  async function visibleModels(actor: Actor) {
    const teams = teamsToList(actor.principal);
    if (teams && teams.length === 0) return { models: [], versions: [], aliases: [] };
    let query = db.selectFrom('models').selectAll();
    if (teams) query = query.where('team', 'in', teams);
    const models = await query.execute();
    const ids = models.map((model) => model.id);
    const versions =
      ids.length === 0
        ? []
        : await db.selectFrom('model_versions').selectAll().where('model_id', 'in', ids).execute();
    return { models, versions, aliases: await aliasesOf(ids) };
  }

  /** Refuses to change what a live endpoint serves (a version, or any version of the model). */
  async function refuseIfServed(model: ModelRow, version: number | null, doing: string) {
    let query = db
      .selectFrom('endpoints')
      .select('name')
      .where('model_id', '=', model.id)
      .where('status', '!=', 'deleted');
    if (version !== null) query = query.where('version', '=', version);
    const served = await query.execute();
    if (served.length > 0)
      throw mlflowError(
        'INVALID_STATE',
        `Cannot ${doing}: endpoint(s) ${served.map((row) => row.name).join(', ')} serve it; delete them first (aicloud endpoints delete)`,
      );
  }

  function auditOf(actor: Actor, action: string, model: ModelRow, details: Record<string, unknown>) {
    return {
      actor: actor.principal.userName,
      action,
      resource: `model/${model.team}/${model.name}`,
      team: model.team,
      outcome: 'success' as const,
      requestId: actor.requestId,
      details,
    };
  }

  return {
    async createRegisteredModel(actor, input) {
      const name = requiredString(input, 'name');
      if (!ModelName.safeParse(name).success)
        throw invalid(
          `Invalid registered model name '${name}': letters, digits, dot, dash, underscore; 1-63 characters`,
        );
      const tags = clientTags(input);
      const teams = [...actor.principal.teams.keys()];
      const team = tags[TEAM_TAG] ?? (teams.length === 1 ? teams[0] : undefined);
      delete tags[TEAM_TAG];
      if (!team)
        throw invalid(
          `You belong to ${teams.length === 0 ? 'no team' : `several teams (${teams.join(', ')})`}: name the team that owns the model with the tag '${TEAM_TAG}'`,
        );
      if (!canSeeTeam(actor.principal, team))
        throw invalid(`You are not a member of team '${team}' (tag '${TEAM_TAG}')`);
      const description = optionalString(input, 'description') ?? null;
      const model: ModelRow = {
        id: newId('mdl'),
        name,
        team,
        created_by: actor.principal.userName,
        created_at: isoNow(clock),
        description,
        tags: Object.keys(tags).length > 0 ? JSON.stringify(tags) : null,
        updated_at: null,
      };
      try {
        await db.transaction().execute(async (trx) => {
          const existing = await trx
            .selectFrom('models')
            .select('id')
            .where('team', '=', team)
            .where('name', '=', name)
            .executeTakeFirst();
          if (existing)
            throw mlflowError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`);
          await trx.insertInto('models').values(model).execute();
          await audit.append(
            trx,
            auditOf(actor, 'model.created', model, { modelId: model.id, via: 'mlflow' }),
          );
        });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === '23505' || (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')))
          throw mlflowError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`);
        throw error;
      }
      return { registered_model: await modelJson(model) };
    },

    async getRegisteredModel(actor, input) {
      return { registered_model: await modelJson(await findModel(actor, requiredString(input, 'name'))) };
    },

    async searchRegisteredModels(actor, input) {
      const max = pageSize(input, MODELS_PAGE);
      const offset = offsetOf(optionalString(input, 'page_token'));
      const { models, versions, aliases } = await visibleModels(actor);
      const entries = models.map((model) => {
        const own = versions.filter((row) => row.model_id === model.id);
        const latest = own.reduce<VersionRow | null>(
          (best, row) => (!best || row.version > best.version ? row : best),
          null,
        );
        return registeredModelJson(
          model,
          latest,
          aliases.filter((alias) => alias.model_id === model.id),
        );
      });
      const found = searchEntries(
        entries,
        MODEL_FILTER_SCHEMA,
        optionalString(input, 'filter'),
        optionalStringList(input, 'order_by'),
        (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
      );
      return {
        registered_models: found.slice(offset, offset + max),
        ...(found.length > offset + max ? { next_page_token: pageToken(offset + max) } : {}),
      };
    },

    async updateRegisteredModel(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const description = optionalString(input, 'description') ?? '';
      const now = isoNow(clock);
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('models')
          .set({ description, updated_at: now })
          .where('id', '=', model.id)
          .execute();
        await audit.append(trx, auditOf(actor, 'model.updated', model, { description }));
      });
      return { registered_model: await modelJson({ ...model, description, updated_at: now }) };
    },

    async renameRegisteredModel(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const newName = requiredString(input, 'new_name');
      if (!ModelName.safeParse(newName).success) throw invalid(`Invalid registered model name '${newName}'`);
      await refuseIfServed(model, null, `rename registered model ${model.name}`);
      const now = isoNow(clock);
      await db.transaction().execute(async (trx) => {
        const clash = await trx
          .selectFrom('models')
          .select('id')
          .where('team', '=', model.team)
          .where('name', '=', newName)
          .executeTakeFirst();
        if (clash)
          throw mlflowError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${newName}) already exists.`);
        await trx
          .updateTable('models')
          .set({ name: newName, updated_at: now })
          .where('id', '=', model.id)
          .execute();
        await audit.append(trx, auditOf(actor, 'model.renamed', model, { newName }));
      });
      return { registered_model: await modelJson({ ...model, name: newName, updated_at: now }) };
    },

    async deleteRegisteredModel(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      await refuseIfServed(model, null, `delete registered model ${model.name}`);
      await db.transaction().execute(async (trx) => {
        const versions = await trx
          .selectFrom('model_versions')
          .select('version')
          .where('model_id', '=', model.id)
          .execute();
        await trx.deleteFrom('model_aliases').where('model_id', '=', model.id).execute();
        await trx.deleteFrom('model_versions').where('model_id', '=', model.id).execute();
        await trx.deleteFrom('models').where('id', '=', model.id).execute();
        await audit.append(
          trx,
          auditOf(actor, 'model.deleted', model, {
            modelId: model.id,
            versions: versions.map((v) => v.version),
          }),
        );
      });
      return EMPTY;
    },

    async getLatestVersions(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const stages = optionalStringList(input, 'stages') ?? [];
      // aicloud has no stages (aliases replace them): every version is in MLflow's stage 'None'.
      if (stages.length > 0 && !stages.some((stage) => stage.toLowerCase() === 'none'))
        return { model_versions: [] };
      const latest = await db
        .selectFrom('model_versions')
        .selectAll()
        .where('model_id', '=', model.id)
        .orderBy('version', 'desc')
        .executeTakeFirst();
      return { model_versions: latest ? [await oneVersionJson(model, latest)] : [] };
    },

    async setAlias(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const alias = requiredString(input, 'alias');
      const version = versionNumber(input);
      await findVersion(model, version);
      await deps.models.setAlias(actor, model.name, alias, version, { team: model.team });
      return EMPTY;
    },

    async deleteAlias(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const alias = requiredString(input, 'alias');
      await db.transaction().execute(async (trx) => {
        const deleted = await trx
          .deleteFrom('model_aliases')
          .where('model_id', '=', model.id)
          .where('alias', '=', alias)
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0)
          throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Registered model alias ${alias} not found.`);
        await audit.append(trx, auditOf(actor, 'model.alias_deleted', model, { alias }));
      });
      return EMPTY;
    },

    async getByAlias(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const alias = requiredString(input, 'alias');
      const row = await db
        .selectFrom('model_aliases')
        .select('version')
        .where('model_id', '=', model.id)
        .where('alias', '=', alias)
        .executeTakeFirst();
      if (!row) throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Registered model alias ${alias} not found.`);
      return { model_version: await oneVersionJson(model, await findVersion(model, row.version)) };
    },

    async createModelVersion(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const source = requiredString(input, 'source');
      const runId = optionalString(input, 'run_id') || null;
      const tags = clientTags(input);
      delete tags[TEAM_TAG];
      const description = optionalString(input, 'description') || null;
      const runSource = runSourceOf(source, runId);
      let version: number;
      if (runSource) {
        version = await registerFromRun({ db, models: deps.models }, actor, model, runSource, {
          tags,
          description,
        });
      } else {
        // aicloud's own sources (job:, path:, hf://) register as `aicloud models register` would.
        if (!/^(job:|path:|hf:\/\/)/.test(source))
          throw invalid(
            `Unsupported source '${source}': register a run's artifact (runs:/<run_id>/<path> or mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>), or an aicloud source (job:<id>, path:<dir>, hf://org/name@revision)`,
          );
        if (runId) throw invalid(`run_id is only taken with a run's artifact as the source, not '${source}'`);
        ({ version } = await deps.models.register(actor, {
          name: model.name,
          team: model.team,
          source,
          tags,
        }));
        if (description)
          await db
            .updateTable('model_versions')
            .set({ description })
            .where('model_id', '=', model.id)
            .where('version', '=', version)
            .execute();
      }
      return { model_version: await oneVersionJson(model, await findVersion(model, version)) };
    },

    async getModelVersion(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      return { model_version: await oneVersionJson(model, await findVersion(model, versionNumber(input))) };
    },

    async searchModelVersions(actor, input) {
      const max = pageSize(input, VERSIONS_PAGE);
      const offset = offsetOf(optionalString(input, 'page_token'));
      const { models, versions, aliases } = await visibleModels(actor);
      const byId = new Map(models.map((model) => [model.id, model]));
      const entries = versions.map((row) =>
        versionJson(
          byId.get(row.model_id)!,
          row,
          aliases
            .filter((alias) => alias.model_id === row.model_id && alias.version === row.version)
            .map((alias) => alias.alias),
        ),
      );
      const found = searchEntries(
        entries,
        VERSION_FILTER_SCHEMA,
        optionalString(input, 'filter'),
        optionalStringList(input, 'order_by'),
        (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : Number(b.version) - Number(a.version)),
      );
      return {
        model_versions: found.slice(offset, offset + max),
        ...(found.length > offset + max ? { next_page_token: pageToken(offset + max) } : {}),
      };
    },

    async updateModelVersion(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const row = await findVersion(model, versionNumber(input));
      const description = optionalString(input, 'description') ?? '';
      const now = isoNow(clock);
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('model_versions')
          .set({ description, updated_at: now })
          .where('model_id', '=', model.id)
          .where('version', '=', row.version)
          .execute();
        await audit.append(
          trx,
          auditOf(actor, 'model.version_updated', model, { version: row.version, description }),
        );
      });
      return { model_version: await oneVersionJson(model, { ...row, description, updated_at: now }) };
    },

    async deleteModelVersion(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const row = await findVersion(model, versionNumber(input));
      await refuseIfServed(model, row.version, `delete version ${row.version} of ${model.name}`);
      await db.transaction().execute(async (trx) => {
        await trx
          .deleteFrom('model_aliases')
          .where('model_id', '=', model.id)
          .where('version', '=', row.version)
          .execute();
        await trx
          .deleteFrom('model_versions')
          .where('model_id', '=', model.id)
          .where('version', '=', row.version)
          .execute();
        await audit.append(
          trx,
          auditOf(actor, 'model.version_deleted', model, {
            version: row.version,
            digest: row.digest,
            source: row.source,
          }),
        );
      });
      return EMPTY;
    },

    async getDownloadUri(actor, input) {
      const model = await findModel(actor, requiredString(input, 'name'));
      const row = await findVersion(model, versionNumber(input));
      if (!row.artifact_dir)
        throw mlflowError(
          'RESOURCE_DOES_NOT_EXIST',
          `Model Version (name=${model.name}, version=${row.version}) has no files on this platform (source ${row.source})`,
        );
      return { artifact_uri: versionArtifactUri(model, row.version) };
    },

    async versionArtifactDir(actor, modelId, version) {
      const model = await db.selectFrom('models').selectAll().where('id', '=', modelId).executeTakeFirst();
      if (!model || !canSeeTeam(actor.principal, model.team))
        throw mlflowError('RESOURCE_DOES_NOT_EXIST', `Registered Model with id=${modelId} not found`);
      const row = await findVersion(model, version);
      if (!row.artifact_dir)
        throw mlflowError(
          'RESOURCE_DOES_NOT_EXIST',
          `Model Version ${model.name}/${version} has no files here`,
        );
      return row.artifact_dir;
    },
  };
}
