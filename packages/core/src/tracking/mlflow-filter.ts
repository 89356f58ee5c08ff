import { mlflowError } from './mlflow-error.ts';

/** What a clause or an ordering names: a metric, param or tag by key, or a column of the entity. */
export type FilterEntity = 'metric' | 'param' | 'tag' | 'attribute';

/** A comparison of MLflow's search grammar. */
export type Comparator = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

/** One `entity.key comparator value` clause; clauses are joined by AND. */
export interface FilterClause {
  entity: FilterEntity;
  key: string;
  comparator: Comparator;
  value: number | string | string[];
}

/** One `entity.key [ASC|DESC]` term of `order_by`. */
export interface OrderTerm {
  entity: FilterEntity;
  key: string;
  ascending: boolean;
}

/** What a search may name: runs (metrics, params, tags, attributes) or experiments (tags, attributes). */
export interface FilterSchema {
  entities: FilterEntity[];
  /** Attribute name (or alias) → column it reads, and whether it is numeric. */
  attributes: Record<string, { column: string; numeric: boolean }>;
}

/** The run attributes MLflow's search accepts. */
export const RUN_FILTER_SCHEMA: FilterSchema = {
  entities: ['metric', 'param', 'tag', 'attribute'],
  attributes: {
    run_id: { column: 'id', numeric: false },
    run_name: { column: 'name', numeric: false },
    status: { column: 'status', numeric: false },
    user_id: { column: 'user_id', numeric: false },
    artifact_uri: { column: 'artifact_uri', numeric: false },
    start_time: { column: 'start_time', numeric: true },
    end_time: { column: 'end_time', numeric: true },
    created: { column: 'start_time', numeric: true },
    Created: { column: 'start_time', numeric: true },
  },
};

/** The experiment attributes MLflow's search accepts. */
export const EXPERIMENT_FILTER_SCHEMA: FilterSchema = {
  entities: ['tag', 'attribute'],
  attributes: {
    name: { column: 'name', numeric: false },
    experiment_id: { column: 'id', numeric: false },
    creation_time: { column: 'creation_time', numeric: true },
    last_update_time: { column: 'last_update_time', numeric: true },
  },
};

const ENTITY_PREFIXES: Record<string, FilterEntity> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
};

type Token =
  | { kind: 'identifier'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'operator'; text: string }
  | { kind: 'punct'; text: '(' | ')' | ',' };

const invalid = (message: string) => mlflowError('INVALID_PARAMETER_VALUE', message);

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < input.length) {
    const char = input[index]!;
    if (/\s/.test(char)) {
      index++;
      continue;
    }
    if (char === "'" || char === '"' || char === '`') {
      // A quoted string, or (after `entity.`) a quoted key: joined to the identifier before it.
      const end = input.indexOf(char, index + 1);
      if (end < 0) throw invalid(`Invalid filter '${input}': unterminated ${char} quote`);
      const text = input.slice(index + 1, end);
      const previous = tokens.at(-1);
      if (previous?.kind === 'identifier' && previous.text.endsWith('.')) previous.text += text;
      else if (char === '`') tokens.push({ kind: 'identifier', text });
      else tokens.push({ kind: 'string', text });
      index = end + 1;
      continue;
    }
    if ('()'.includes(char) || char === ',') {
      tokens.push({ kind: 'punct', text: char as '(' | ')' | ',' });
      index++;
      continue;
    }
    const operator = /^(!=|>=|<=|=|>|<)/.exec(input.slice(index));
    if (operator) {
      tokens.push({ kind: 'operator', text: operator[1]! });
      index += operator[1]!.length;
      continue;
    }
    const number = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(input.slice(index));
    if (number && (tokens.at(-1)?.kind === 'operator' || tokens.at(-1)?.text === '(')) {
      tokens.push({ kind: 'number', text: number[0] });
      index += number[0].length;
      continue;
    }
    const word = /^[\w.:/-]+/.exec(input.slice(index));
    if (!word) throw invalid(`Invalid filter '${input}': unexpected character '${char}'`);
    tokens.push({ kind: 'identifier', text: word[0] });
    index += word[0].length;
  }
  return tokens;
}

function splitIdentifier(
  text: string,
  schema: FilterSchema,
  context: string,
): { entity: FilterEntity; key: string } {
  const dot = text.indexOf('.');
  const prefix = dot < 0 ? null : text.slice(0, dot);
  const entity = prefix === null ? undefined : ENTITY_PREFIXES[prefix];
  if (entity === undefined || !schema.entities.includes(entity)) {
    // A bare attribute name (`status`, `name`) reads as an attribute, as MLflow's experiment search allows.
    if (Object.hasOwn(schema.attributes, text) && schema.entities.includes('attribute'))
      return { entity: 'attribute', key: text };
    throw invalid(
      `Invalid ${context} '${text}'. Expected ${schema.entities.map((name) => `${name}s.<key>`).join(', ')}`,
    );
  }
  const key = text.slice(dot + 1);
  if (key === '') throw invalid(`Invalid ${context} '${text}': the key is empty`);
  if (entity === 'attribute' && !Object.hasOwn(schema.attributes, key)) {
    throw invalid(
      `Invalid attribute key '${key}' specified. Valid keys are '${Object.keys(schema.attributes).join("', '")}'`,
    );
  }
  return { entity, key };
}

const NUMERIC_COMPARATORS: Comparator[] = ['=', '!=', '>', '>=', '<', '<='];
const STRING_COMPARATORS: Comparator[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];

/**
 * Parses MLflow's search filter (`metrics.acc > 0.9 and params.lr = '0.01' and tags.x LIKE 'a%'`) into
 * clauses; an empty filter is no clause. Throws INVALID_PARAMETER_VALUE naming what is wrong.
 */
export function parseFilter(
  filter: string | undefined,
  schema: FilterSchema = RUN_FILTER_SCHEMA,
): FilterClause[] {
  if (!filter || filter.trim() === '') return [];
  const tokens = tokenize(filter);
  const clauses: FilterClause[] = [];
  let index = 0;
  const next = () => tokens[index++];
  while (index < tokens.length) {
    if (clauses.length > 0) {
      const conjunction = next();
      if (conjunction?.kind !== 'identifier' || conjunction.text.toUpperCase() !== 'AND') {
        throw invalid(
          `Invalid clause(s) in filter string: '${conjunction?.text ?? ''}'. Clauses are joined with AND only`,
        );
      }
    }
    const identifier = next();
    if (identifier?.kind !== 'identifier')
      throw invalid(`Invalid filter '${filter}': expected an identifier`);
    const { entity, key } = splitIdentifier(identifier.text, schema, 'identifier');
    const numeric = entity === 'metric' || (entity === 'attribute' && schema.attributes[key]!.numeric);
    let comparatorToken = next();
    let comparator: Comparator;
    if (comparatorToken?.kind === 'operator') comparator = comparatorToken.text as Comparator;
    else if (comparatorToken?.kind === 'identifier') {
      let word = comparatorToken.text.toUpperCase();
      if (word === 'NOT') {
        comparatorToken = next();
        word = `NOT ${comparatorToken?.text.toUpperCase() ?? ''}`;
      }
      if (!STRING_COMPARATORS.includes(word as Comparator))
        throw invalid(`Invalid comparator '${word}' in filter '${filter}'`);
      comparator = word as Comparator;
    } else throw invalid(`Invalid filter '${filter}': expected a comparator after '${identifier.text}'`);
    const allowed = numeric ? NUMERIC_COMPARATORS : STRING_COMPARATORS;
    if (!allowed.includes(comparator)) {
      throw invalid(
        `Invalid comparator '${comparator}' not one of '${allowed.join("', '")}' for ${entity} '${key}'`,
      );
    }
    if (comparator === 'IN' || comparator === 'NOT IN') {
      if (next()?.text !== '(') throw invalid(`Invalid filter '${filter}': ${comparator} expects ('a', 'b')`);
      const values: string[] = [];
      for (;;) {
        const value = next();
        if (value?.kind !== 'string')
          throw invalid(`Invalid filter '${filter}': ${comparator} lists quoted strings`);
        values.push(value.text);
        const separator = next();
        if (separator?.text === ')') break;
        if (separator?.text !== ',') throw invalid(`Invalid filter '${filter}': expected ',' or ')'`);
      }
      clauses.push({ entity, key, comparator, value: values });
      continue;
    }
    const value = next();
    if (numeric) {
      // MLflow also accepts a quoted number for a numeric attribute.
      const parsed = value?.kind === 'number' || value?.kind === 'string' ? Number(value.text) : Number.NaN;
      if (value === undefined || Number.isNaN(parsed) || value.text.trim() === '') {
        throw invalid(
          `Expected numeric value type for ${entity} '${key}'. Found ${value?.text ?? 'nothing'}`,
        );
      }
      clauses.push({ entity, key, comparator, value: parsed });
    } else {
      if (value?.kind !== 'string') {
        throw invalid(
          `Value '${value?.text ?? ''}' for ${entity} '${key}' must be a quoted string ('...' or "...")`,
        );
      }
      clauses.push({ entity, key, comparator, value: value.text });
    }
  }
  return clauses;
}

/** Parses `order_by` terms (`metrics.acc DESC`, `attributes.start_time`, `params.lr ASC`). */
export function parseOrderBy(
  orderBy: string[] | undefined,
  schema: FilterSchema = RUN_FILTER_SCHEMA,
): OrderTerm[] {
  return (orderBy ?? []).map((term) => {
    const match = /^\s*(.+?)(?:\s+(ASC|DESC))?\s*$/i.exec(term);
    if (!match) throw invalid(`Invalid order_by clause '${term}'`);
    const tokens = tokenize(match[1]!);
    if (tokens.length !== 1 || tokens[0]!.kind !== 'identifier')
      throw invalid(`Invalid order_by clause '${term}'`);
    const { entity, key } = splitIdentifier(tokens[0]!.text, schema, 'order_by clause');
    return { entity, key, ascending: (match[2] ?? 'ASC').toUpperCase() === 'ASC' };
  });
}
