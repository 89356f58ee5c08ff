import { mlflowError } from './mlflow-error.ts';

/** A request's fields as MLflow clients send them: a JSON body, or the query string of a GET. */
export type MlflowInput = Record<string, unknown>;

const invalid = (message: string) => mlflowError('INVALID_PARAMETER_VALUE', message);

function missing(name: string) {
  return invalid(
    `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`,
  );
}

/** A required text field (numbers are taken as their text, as protobuf's JSON parser does). */
export function requiredString(input: MlflowInput, name: string, ...aliases: string[]): string {
  const value = optionalString(input, name, ...aliases);
  if (value === undefined || value === '') throw missing(name);
  return value;
}

/** An optional text field. */
export function optionalString(input: MlflowInput, name: string, ...aliases: string[]): string | undefined {
  for (const field of [name, ...aliases]) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    throw invalid(
      `Invalid value ${JSON.stringify(value)} for parameter '${field}' supplied: expected a string`,
    );
  }
  return undefined;
}

/** An optional int64 field: a JSON number or its decimal text. */
export function optionalInteger(input: MlflowInput, name: string): number | undefined {
  const value = input[name];
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw invalid(
      `Invalid value ${JSON.stringify(value)} for parameter '${name}' supplied: expected an integer`,
    );
  }
  return number;
}

/** An optional list of text (a JSON array, or one or more query-string values). */
export function optionalStringList(input: MlflowInput, name: string): string[] | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number' && Number.isFinite(item)) return String(item);
    throw invalid(
      `Invalid value ${JSON.stringify(value)} for parameter '${name}' supplied: expected strings`,
    );
  });
}

/** An optional list of objects (log-batch's metrics, params and tags; create's tags). */
export function optionalObjectList(input: MlflowInput, name: string): MlflowInput[] {
  const value = input[name];
  if (value === undefined || value === null) return [];
  if (
    !Array.isArray(value) ||
    value.some((item) => typeof item !== 'object' || item === null || Array.isArray(item))
  ) {
    throw invalid(
      `Invalid value ${JSON.stringify(value).slice(0, 200)} for parameter '${name}' supplied: expected a list of objects`,
    );
  }
  return value as MlflowInput[];
}

/** A metric value: a JSON number, or protobuf's text forms (`"NaN"`, `"Infinity"`, `"-Infinity"`, `"0.5"`). */
export function metricValue(input: MlflowInput, key: string, timestamp: unknown): number {
  const value = input.value;
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : Number.NaN;
  const isNaNText = typeof value === 'string' && value.trim() === 'NaN';
  if ((typeof value !== 'number' && typeof value !== 'string') || (Number.isNaN(number) && !isNaNText)) {
    throw invalid(
      `Got invalid value ${value === undefined ? 'None' : JSON.stringify(value)} for metric '${key}' (timestamp=${String(timestamp)}). Please specify value as a valid double (64-bit floating point)`,
    );
  }
  return number;
}
