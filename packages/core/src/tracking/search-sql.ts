import { type RawBuilder, sql } from 'kysely';
import type { StoreDialect } from '../store/open-store.ts';
import type { FilterClause, FilterSchema, OrderTerm } from './mlflow-filter.ts';

/** SQLite's LIKE ignores case; GLOB with the same pattern keeps MLflow's case-sensitive LIKE. */
export function likeToGlob(pattern: string): string {
  let glob = '';
  for (const char of pattern) {
    if (char === '%') glob += '*';
    else if (char === '_') glob += '?';
    else if (char === '*' || char === '?' || char === '[') glob += `[${char}]`;
    else glob += char;
  }
  return glob;
}

/** The comparison of an SQL expression with a clause's value, on the store's engine. */
function compare(
  expression: RawBuilder<unknown>,
  clause: FilterClause,
  dialect: StoreDialect,
): RawBuilder<unknown> {
  const { comparator, value } = clause;
  if (comparator === 'IN' || comparator === 'NOT IN') {
    const list = sql.join((value as string[]).map((item) => sql`${item}`));
    return comparator === 'IN' ? sql`${expression} in (${list})` : sql`${expression} not in (${list})`;
  }
  if (comparator === 'LIKE') {
    return dialect === 'sqlite'
      ? sql`(${expression} like ${value} and ${expression} glob ${likeToGlob(value as string)})`
      : sql`${expression} like ${value}`;
  }
  if (comparator === 'ILIKE') {
    return dialect === 'sqlite'
      ? sql`lower(${expression}) like lower(${value})`
      : sql`${expression} ilike ${value}`;
  }
  // The comparator is one of the parser's closed set, never caller text.
  return sql`${expression} ${sql.raw(comparator)} ${value}`;
}

/** Tables of the key-value entities, per searched table (runs or experiments). */
interface Tables {
  alias: string;
  metric?: string;
  param?: string;
  tag: string;
  /** The column of the key-value tables that points at the searched row. */
  owner: string;
}

export const RUN_TABLES: Tables = {
  alias: 'r',
  metric: 'tracking_latest_metrics',
  param: 'tracking_params',
  tag: 'tracking_tags',
  owner: 'run_id',
};

export const EXPERIMENT_TABLES: Tables = {
  alias: 'e',
  tag: 'tracking_experiment_tags',
  owner: 'experiment_id',
};

function entityTable(tables: Tables, entity: FilterClause['entity']): string {
  const table = entity === 'metric' ? tables.metric : entity === 'param' ? tables.param : tables.tag;
  if (!table) throw new Error(`no ${entity} table`);
  return table;
}

/** The SQL conditions of parsed filter clauses (joined by AND), over `<alias>` rows. */
export function whereOf(
  clauses: FilterClause[],
  schema: FilterSchema,
  tables: Tables,
  dialect: StoreDialect,
): RawBuilder<unknown>[] {
  return clauses.map((clause) => {
    if (clause.entity === 'attribute') {
      const column = sql.ref(`${tables.alias}.${schema.attributes[clause.key]!.column}`);
      return compare(column as unknown as RawBuilder<unknown>, clause, dialect);
    }
    const table = sql.table(entityTable(tables, clause.entity));
    const value = sql.ref('k.value') as unknown as RawBuilder<unknown>;
    const nan = clause.entity === 'metric' ? sql` and k.is_nan = 0` : sql``;
    return sql`exists (select 1 from ${table} k where k.${sql.ref(tables.owner)} = ${sql.ref(`${tables.alias}.id`)} and k.key = ${clause.key}${nan} and ${compare(value, clause, dialect)})`;
  });
}

/** The ORDER BY terms of parsed `order_by` (missing values last), then the default order. */
export function orderOf(
  terms: OrderTerm[],
  schema: FilterSchema,
  tables: Tables,
  defaults: RawBuilder<unknown>[],
): RawBuilder<unknown> {
  const parts = terms.flatMap((term) => {
    const expression =
      term.entity === 'attribute'
        ? sql`${sql.ref(`${tables.alias}.${schema.attributes[term.key]!.column}`)}`
        : sql`(select k.value from ${sql.table(entityTable(tables, term.entity))} k where k.${sql.ref(tables.owner)} = ${sql.ref(`${tables.alias}.id`)} and k.key = ${term.key})`;
    return [sql`(${expression} is null) asc`, sql`${expression} ${sql.raw(term.ascending ? 'asc' : 'desc')}`];
  });
  return sql.join([...parts, ...defaults]);
}
