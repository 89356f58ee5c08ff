import { describe, expect, it } from 'vitest';
import { AppError } from '../app-error.ts';
import { EXPERIMENT_FILTER_SCHEMA, parseFilter, parseOrderBy } from './mlflow-filter.ts';
import { likeToGlob } from './search-sql.ts';

function refusal(run: () => unknown): { code: unknown; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return { code: error.details?.mlflowCode, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseFilter', () => {
  it('reads metrics, params, tags and attributes joined by AND (any case)', () => {
    expect(
      parseFilter(
        `metrics.acc >= 0.9 and params.lr = '0.01' AND tags."mlflow.runName" LIKE 'tune%' and attributes.status != "FAILED"`,
      ),
    ).toEqual([
      { entity: 'metric', key: 'acc', comparator: '>=', value: 0.9 },
      { entity: 'param', key: 'lr', comparator: '=', value: '0.01' },
      { entity: 'tag', key: 'mlflow.runName', comparator: 'LIKE', value: 'tune%' },
      { entity: 'attribute', key: 'status', comparator: '!=', value: 'FAILED' },
    ]);
  });

  it('reads backquoted keys with spaces, dotted keys, negative and exponent numbers, IN lists', () => {
    expect(parseFilter('metrics.`val loss` < -1.5e-3 and tags.mlflow.user ilike "AL%"')).toEqual([
      { entity: 'metric', key: 'val loss', comparator: '<', value: -0.0015 },
      { entity: 'tag', key: 'mlflow.user', comparator: 'ILIKE', value: 'AL%' },
    ]);
    expect(parseFilter(`attributes.run_id IN ('a1', 'b2') and params.opt NOT IN ('sgd')`)).toEqual([
      { entity: 'attribute', key: 'run_id', comparator: 'IN', value: ['a1', 'b2'] },
      { entity: 'param', key: 'opt', comparator: 'NOT IN', value: ['sgd'] },
    ]);
    expect(parseFilter('attribute.start_time > 1700000000000 and metric.step_loss = 2')).toEqual([
      { entity: 'attribute', key: 'start_time', comparator: '>', value: 1700000000000 },
      { entity: 'metric', key: 'step_loss', comparator: '=', value: 2 },
    ]);
    expect(parseFilter('  ')).toEqual([]);
    expect(parseFilter(undefined)).toEqual([]);
  });

  it('refuses OR, unknown entities and attributes, wrong comparators and value types with INVALID_PARAMETER_VALUE', () => {
    const cases: [string, RegExp][] = [
      [`params.a = '1' or params.b = '2'`, /Invalid clause\(s\) in filter string: 'or'/],
      [`foo.a = '1'`, /Invalid identifier 'foo.a'/],
      [`attributes.colour = 'red'`, /Invalid attribute key 'colour'/],
      [`metrics.acc LIKE '0.9%'`, /Invalid comparator 'LIKE' not one of/],
      [`params.lr > '0.1'`, /Invalid comparator '>' not one of/],
      [`metrics.acc > high`, /Expected numeric value type for metric 'acc'/],
      [`params.lr = 0.1`, /must be a quoted string/],
      [`params.lr = 'unterminated`, /unterminated ' quote/],
      [`params.lr`, /expected a comparator/],
      [`params.lr IN 'a'`, /IN expects/],
      [`tags.x = 'a' and`, /expected an identifier/],
    ];
    for (const [filter, message] of cases) {
      const error = refusal(() => parseFilter(filter));
      expect(error.code, filter).toBe('INVALID_PARAMETER_VALUE');
      expect(error.message, filter).toMatch(message);
    }
  });

  it('reads experiment filters: name, tags and times, and refuses metrics there', () => {
    expect(parseFilter(`name LIKE 'legal%' and tags.owner = 'bob'`, EXPERIMENT_FILTER_SCHEMA)).toEqual([
      { entity: 'attribute', key: 'name', comparator: 'LIKE', value: 'legal%' },
      { entity: 'tag', key: 'owner', comparator: '=', value: 'bob' },
    ]);
    expect(refusal(() => parseFilter('metrics.acc > 1', EXPERIMENT_FILTER_SCHEMA)).message).toMatch(
      /Invalid identifier/,
    );
  });
});

describe('parseOrderBy', () => {
  it('reads terms with their direction (ASC by default)', () => {
    expect(
      parseOrderBy(['metrics.acc DESC', 'params.lr', 'attributes.start_time asc', 'tags.`a b` desc']),
    ).toEqual([
      { entity: 'metric', key: 'acc', ascending: false },
      { entity: 'param', key: 'lr', ascending: true },
      { entity: 'attribute', key: 'start_time', ascending: true },
      { entity: 'tag', key: 'a b', ascending: false },
    ]);
    expect(refusal(() => parseOrderBy(['metrics.acc sideways'])).code).toBe('INVALID_PARAMETER_VALUE');
    expect(refusal(() => parseOrderBy(['colour'])).code).toBe('INVALID_PARAMETER_VALUE');
  });
});

describe('likeToGlob', () => {
  it('turns LIKE wildcards into GLOB ones and escapes GLOB specials', () => {
    expect(likeToGlob('a%b_c*d?[e')).toBe('a*b?c[*]d[?][[]e');
  });
});
