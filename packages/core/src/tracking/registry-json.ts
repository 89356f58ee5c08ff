import type { Selectable } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { MlflowKeyValue } from './tracking-types.ts';

/** A registry row of aicloud's `models` table. */
export type ModelRow = Selectable<Database['models']>;
/** A registry row of aicloud's `model_versions` table. */
export type VersionRow = Selectable<Database['model_versions']>;

/** MLflow's ModelVersion (aicloud's team, scan, digest and metrics ride in `aicloud.*` tags). */
export interface MlflowModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id: string;
  current_stage: 'None';
  description: string;
  source: string;
  run_id: string;
  status: 'READY' | 'FAILED_REGISTRATION';
  status_message: string;
  tags: MlflowKeyValue[];
  run_link: string;
  aliases: string[];
}

/** MLflow's RegisteredModel. */
export interface MlflowRegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id: string;
  description: string;
  latest_versions: MlflowModelVersion[];
  tags: MlflowKeyValue[];
  aliases: { alias: string; version: string }[];
}

/** The prefix of the tags that carry aicloud's own facts about a version (never taken from a client). */
export const AICLOUD_TAG_PREFIX = 'aicloud.';

/** Scan verdicts that keep a version from ever deploying: MLflow's FAILED_REGISTRATION. */
const FAILED_VERDICTS = new Set(['blocked', 'quarantined']);

const millis = (iso: string | null | undefined, fallback: string) => Date.parse(iso ?? fallback);

function keyValues(record: Record<string, string>): MlflowKeyValue[] {
  return Object.entries(record)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key, value }));
}

/** A version in MLflow's shape; `aliases` are the ones pointing at it. */
export function versionJson(model: ModelRow, row: VersionRow, aliases: string[]): MlflowModelVersion {
  const metrics = JSON.parse(row.metrics) as Record<string, number>;
  const tags: Record<string, string> = {
    ...(JSON.parse(row.tags) as Record<string, string>),
    'aicloud.team': model.team,
    'aicloud.scan_verdict': row.scan_verdict,
    'aicloud.runtime': row.runtime,
    ...(row.digest ? { 'aicloud.digest': row.digest } : {}),
  };
  for (const [key, value] of Object.entries(metrics)) tags[`aicloud.metric.${key}`] = String(value);
  return {
    name: model.name,
    version: String(row.version),
    creation_timestamp: millis(row.created_at, row.created_at),
    last_updated_timestamp: millis(row.updated_at, row.created_at),
    user_id: row.created_by,
    current_stage: 'None',
    description: row.description ?? '',
    source: row.source,
    run_id: row.run_id ?? '',
    status: FAILED_VERDICTS.has(row.scan_verdict) ? 'FAILED_REGISTRATION' : 'READY',
    status_message: `aicloud scan: ${row.scan_verdict}`,
    tags: keyValues(tags),
    run_link: '',
    aliases: [...aliases].sort(),
  };
}

/** A registered model in MLflow's shape, with its latest version (if any) and its aliases. */
export function registeredModelJson(
  model: ModelRow,
  latest: VersionRow | null,
  aliases: { alias: string; version: number }[],
): MlflowRegisteredModel {
  const tags: Record<string, string> = {
    ...(model.tags ? (JSON.parse(model.tags) as Record<string, string>) : {}),
    'aicloud.team': model.team,
  };
  const updated = [model.updated_at, latest?.updated_at, latest?.created_at, model.created_at]
    .filter((time): time is string => typeof time === 'string')
    .map((time) => Date.parse(time));
  return {
    name: model.name,
    creation_timestamp: millis(model.created_at, model.created_at),
    last_updated_timestamp: Math.max(...updated),
    user_id: model.created_by,
    description: model.description ?? '',
    latest_versions: latest
      ? [
          versionJson(
            model,
            latest,
            aliases.filter((alias) => alias.version === latest.version).map((alias) => alias.alias),
          ),
        ]
      : [],
    tags: keyValues(tags),
    aliases: [...aliases]
      .sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0))
      .map((alias) => ({ alias: alias.alias, version: String(alias.version) })),
  };
}
