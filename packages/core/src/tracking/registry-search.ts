import { type FilterClause, type FilterSchema, parseFilter, parseOrderBy } from './mlflow-filter.ts';
import type { MlflowModelVersion, MlflowRegisteredModel } from './registry-json.ts';

/** What `registered-models/search` may filter and order on. */
export const MODEL_FILTER_SCHEMA: FilterSchema = {
  entities: ['tag', 'attribute'],
  attributes: {
    name: { column: 'name', numeric: false },
    timestamp: { column: 'last_updated_timestamp', numeric: true },
    creation_timestamp: { column: 'creation_timestamp', numeric: true },
    last_updated_timestamp: { column: 'last_updated_timestamp', numeric: true },
  },
};

/** What `model-versions/search` may filter and order on. */
export const VERSION_FILTER_SCHEMA: FilterSchema = {
  entities: ['tag', 'attribute'],
  attributes: {
    name: { column: 'name', numeric: false },
    run_id: { column: 'run_id', numeric: false },
    source_path: { column: 'source', numeric: false },
    version_number: { column: 'version', numeric: true },
    timestamp: { column: 'creation_timestamp', numeric: true },
    creation_timestamp: { column: 'creation_timestamp', numeric: true },
    last_updated_timestamp: { column: 'last_updated_timestamp', numeric: true },
  },
};

type Entry = MlflowRegisteredModel | MlflowModelVersion;

/** SQL's LIKE on text: `%` any run, `_` one character. */
function like(value: string, pattern: string, caseless: boolean): boolean {
  const source = pattern
    .split('')
    .map((char) => (char === '%' ? '.*' : char === '_' ? '.' : char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, caseless ? 'is' : 's').test(value);
}

function fieldOf(entry: Entry, clause: { entity: string; key: string }, schema: FilterSchema) {
  if (clause.entity === 'tag') return entry.tags.find((tag) => tag.key === clause.key)?.value;
  const column = schema.attributes[clause.key]!.column;
  const value = (entry as unknown as Record<string, unknown>)[column];
  return schema.attributes[clause.key]!.numeric ? Number(value) : (value as string | undefined);
}

function matches(entry: Entry, clause: FilterClause, schema: FilterSchema): boolean {
  const field = fieldOf(entry, clause, schema);
  if (field === undefined) return false;
  const { comparator, value } = clause;
  if (comparator === 'IN') return (value as string[]).includes(String(field));
  if (comparator === 'NOT IN') return !(value as string[]).includes(String(field));
  if (comparator === 'LIKE' || comparator === 'ILIKE')
    return like(String(field), String(value), comparator === 'ILIKE');
  if (comparator === '=') return field === value;
  if (comparator === '!=') return field !== value;
  const number = Number(field);
  const bound = Number(value);
  if (comparator === '>') return number > bound;
  if (comparator === '>=') return number >= bound;
  if (comparator === '<') return number < bound;
  return number <= bound;
}

/**
 * Filters and orders registry entries with MLflow's search grammar (`name LIKE 'legal%'`, `run_id = '…'`,
 * `tags.stage = 'prod'`, `order_by=["name DESC"]`); each search lists one caller's teams, small enough to
 * sort here.
 */
export function searchEntries<T extends Entry>(
  entries: T[],
  schema: FilterSchema,
  filter: string | undefined,
  orderBy: string[] | undefined,
  fallback: (a: T, b: T) => number,
): T[] {
  const clauses = parseFilter(filter, schema);
  const order = parseOrderBy(orderBy, schema);
  const kept = entries.filter((entry) => clauses.every((clause) => matches(entry, clause, schema)));
  return kept.sort((a, b) => {
    for (const term of order) {
      const left = fieldOf(a, term, schema);
      const right = fieldOf(b, term, schema);
      if (left === right) continue;
      if (left === undefined) return 1;
      if (right === undefined) return -1;
      const sign = left < right ? -1 : 1;
      return term.ascending ? sign : -sign;
    }
    return fallback(a, b);
  });
}
