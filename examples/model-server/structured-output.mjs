// Schema-constrained output for the aicloud-tiny runtime: JSON mode, structured output (json_schema) and
// tool-call arguments. The grammar is the JSON Schema itself: a generator walks it and emits only what
// it allows (the right types, required properties, enums, bounds, array lengths), taking every free choice
// (words of strings, digits of numbers, booleans, which enum value) from the tiny model's own tokens for
// the prompt. The output is always valid JSON that matches the schema; its content is as good as the model.

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'-]*/gu;
const MAX_DEPTH = 8;

/**
 * The model's words for a prompt, consumed in order: each call to `next()` returns the next one, sampling
 * more from the model when they run out (with the field's name as a hint of what it is about).
 */
export function createWordSource(model, prompt, options = {}) {
  let words = [];
  let round = 0;
  const refill = (hint) => {
    const text = model.generate(hint ? `${prompt} ${hint}` : prompt, {
      maxTokens: 24,
      temperature: options.temperature,
      topP: options.topP,
      seed: options.seed === undefined ? undefined : (options.seed + round) >>> 0,
    }).text;
    round += 1;
    words = text.match(WORD) ?? [];
    if (words.length === 0) words = prompt.match(WORD) ?? [];
    if (words.length === 0) words = ['value'];
  };
  return {
    /** The next word; `hint` (a property's name) steers a fresh sample. */
    next(hint) {
      if (words.length === 0 || (hint && round < 64)) refill(hint);
      return words.shift() ?? 'value';
    },
    /** A number in [0, 1) from the next word (the model's choice, made deterministic). */
    fraction(hint) {
      let hash = 2166136261;
      for (const char of this.next(hint)) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
      return (hash >>> 0) / 2 ** 32;
    },
  };
}

function resolve(schema, root, depth) {
  let current = schema;
  for (let hops = 0; current && typeof current.$ref === 'string' && hops < 16; hops++) {
    const path = current.$ref.replace(/^#\/?/, '').split('/').filter(Boolean);
    let target = root;
    for (const part of path) target = target?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
    current = target;
  }
  if (!current || typeof current !== 'object') return {};
  if (Array.isArray(current.allOf) && depth < MAX_DEPTH) {
    // Merge the parts of an allOf: properties and required lists add up.
    const merged = {
      ...current,
      allOf: undefined,
      properties: { ...current.properties },
      required: [...(current.required ?? [])],
    };
    for (const part of current.allOf) {
      const resolved = resolve(part, root, depth + 1);
      Object.assign(merged.properties, resolved.properties);
      merged.required.push(...(resolved.required ?? []));
      merged.type ??= resolved.type;
    }
    return merged;
  }
  return current;
}

function typeOf(schema) {
  if (Array.isArray(schema.type)) return schema.type.find((type) => type !== 'null') ?? 'null';
  if (typeof schema.type === 'string') return schema.type;
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return 'string';
}

function stringFor(schema, source, hint) {
  if (schema.format === 'date-time')
    return new Date(Date.UTC(2025, 0, 1 + Math.floor(source.fraction(hint) * 365))).toISOString();
  if (schema.format === 'date')
    return new Date(Date.UTC(2025, 0, 1 + Math.floor(source.fraction(hint) * 365)))
      .toISOString()
      .slice(0, 10);
  if (schema.format === 'email')
    return `${
      source
        .next(hint)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '') || 'user'
    }@example.com`;
  if (schema.format === 'uuid') {
    const hex = Array.from({ length: 32 }, () => Math.floor(source.fraction() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
  }
  const min = Number.isInteger(schema.minLength) ? schema.minLength : 0;
  const max = Number.isInteger(schema.maxLength) ? schema.maxLength : Number.POSITIVE_INFINITY;
  let text = source.next(hint);
  const count = 1 + Math.floor(source.fraction() * 5);
  for (let word = 1; word < count && text.length < Math.min(max, 60); word++) text += ` ${source.next()}`;
  while (text.length < min) text += ` ${source.next()}`;
  return text.slice(0, max);
}

function numberFor(schema, source, hint, integer) {
  const low =
    schema.minimum ??
    (schema.exclusiveMinimum === undefined ? undefined : schema.exclusiveMinimum + (integer ? 1 : 1e-6));
  const high =
    schema.maximum ??
    (schema.exclusiveMaximum === undefined ? undefined : schema.exclusiveMaximum - (integer ? 1 : 1e-6));
  const from = low ?? (high === undefined ? 0 : high - 100);
  const to = high ?? from + 100;
  const value = from + source.fraction(hint) * (to - from);
  if (integer) return Math.min(Math.max(Math.round(value), Math.ceil(from)), Math.floor(to));
  return Math.round(value * 100) / 100;
}

/** A value that matches `schema` (JSON Schema, as OpenAI's structured outputs and tools use it). */
export function generateValue(schema, source, options = {}) {
  const root = options.root ?? schema;
  const depth = options.depth ?? 0;
  const hint = options.hint;
  const resolved = resolve(schema, root, depth);
  if ('const' in resolved) return resolved.const;
  if (Array.isArray(resolved.enum) && resolved.enum.length > 0)
    return resolved.enum[Math.floor(source.fraction(hint) * resolved.enum.length)];
  const alternatives = resolved.anyOf ?? resolved.oneOf;
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    // Deep in a recursive schema, take the null branch where there is one, so the value ends.
    const nullable = alternatives.find((alternative) => resolve(alternative, root, depth).type === 'null');
    const chosen =
      depth >= MAX_DEPTH && nullable
        ? nullable
        : (alternatives.find((alternative) => resolve(alternative, root, depth).type !== 'null') ??
          alternatives[0]);
    return generateValue(chosen, source, { root, depth: depth + 1, hint });
  }
  const next = { root, depth: depth + 1 };
  switch (typeOf(resolved)) {
    case 'null':
      return null;
    case 'boolean':
      return source.fraction(hint) < 0.5;
    case 'integer':
      return numberFor(resolved, source, hint, true);
    case 'number':
      return numberFor(resolved, source, hint, false);
    case 'array': {
      const min = Number.isInteger(resolved.minItems) ? resolved.minItems : 0;
      const max = Number.isInteger(resolved.maxItems) ? resolved.maxItems : Math.max(min, 3);
      const count =
        depth >= MAX_DEPTH ? min : Math.min(max, Math.max(min, 1 + Math.floor(source.fraction() * 3)));
      if (Array.isArray(resolved.prefixItems))
        return resolved.prefixItems.map((item) => generateValue(item, source, { ...next, hint }));
      return Array.from({ length: count }, () =>
        generateValue(resolved.items ?? {}, source, { ...next, hint }),
      );
    }
    case 'object': {
      const value = {};
      const properties = resolved.properties ?? {};
      const required = new Set(resolved.required ?? []);
      for (const [name, property] of Object.entries(properties)) {
        // Past the depth limit only what is required, so recursive schemas end.
        if (depth >= MAX_DEPTH && !required.has(name)) continue;
        value[name] = generateValue(property, source, { ...next, hint: name });
      }
      if (Object.keys(properties).length === 0 && resolved.additionalProperties !== false && depth === 0)
        value.answer = stringFor({}, source, 'answer');
      return value;
    }
    default:
      return stringFor(resolved, source, hint);
  }
}

/** The JSON text a `response_format` asks for: an object for json_object, the schema's value for json_schema. */
export function structuredText(format, source) {
  if (format.type === 'json_schema') {
    const schema = format.json_schema?.schema ?? { type: 'object' };
    return JSON.stringify(generateValue(schema, source));
  }
  return JSON.stringify(generateValue({ type: 'object' }, source));
}

/**
 * The tool a request makes the model call: the named one, else (`required`) the tool whose name and
 * description share most words with the prompt.
 */
export function chooseTool(tools, toolChoice, prompt) {
  if (toolChoice && typeof toolChoice === 'object')
    return tools.find((tool) => tool.function.name === toolChoice.function.name);
  const words = new Set((prompt.toLowerCase().match(WORD) ?? []).filter((word) => word.length > 2));
  let best = tools[0];
  let bestScore = -1;
  for (const tool of tools) {
    const text =
      `${tool.function.name.replaceAll(/[_-]/g, ' ')} ${tool.function.description ?? ''}`.toLowerCase();
    const score = (text.match(WORD) ?? []).filter((word) => words.has(word)).length;
    if (score > bestScore) {
      best = tool;
      bestScore = score;
    }
  }
  return best;
}
