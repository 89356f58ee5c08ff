import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DetailedError, EntityJson, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { actionEntities } from './action-entities.ts';
import type { PolicyInfo } from './authorizer.ts';
import type { CedarEngine } from './cedar-engine.ts';
import { type PayloadPlan, planPayload } from './payload-plan.ts';
import { readPolicyInfo } from './policy-info.ts';

/** A validated policy set, parsed once inside the engine and ready to answer requests. */
export interface LoadedPolicySet {
  digest: string;
  /** The id under which the engine keeps the parsed set. */
  policySetId: string;
  /** The name under which the engine keeps the parsed schema. */
  schemaName: string;
  policies: PolicyInfo[];
  /** Each policy and its position in file order. */
  byId: Map<string, { info: PolicyInfo; index: number }>;
  plan: PayloadPlan;
  /** Action entities with the groups the schema puts them in, for policies that say `action in <group>`. */
  actionEntities: EntityJson[];
}

/** The loaded set, or every problem found, each naming its file. */
export type LoadPolicySetResult = { ok: true; policySet: LoadedPolicySet } | { ok: false; error: string };

const schemaFile = 'schema.cedarschema';
const reservedIds = new Set(['default-deny', 'engine-error']);

/** Line and column of an offset in a text, both from 1. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}

function describe(file: string, text: string, base: number, error: DetailedError): string {
  const location = error.sourceLocations?.[0];
  const where = location ? `${file}:${position(text, base + location.start)}` : file;
  const label = location?.label ? ` (${location.label})` : '';
  const help = error.help ? `; ${error.help}` : '';
  return `${where}: ${error.message}${label}${help}`;
}

function refused(policiesDir: string, problems: string[]): LoadPolicySetResult {
  return { ok: false, error: `policy set in ${policiesDir} refused:\n  ${problems.join('\n  ')}` };
}

/** Reads the schema and every `*.cedar` file of a folder, validates them, and parses the set once in the engine. */
export function loadPolicySet(policiesDir: string, engine: CedarEngine): LoadPolicySetResult {
  const schemaPath = join(policiesDir, schemaFile);
  if (!existsSync(schemaPath)) return refused(policiesDir, [`${schemaPath}: schema file not found`]);
  const schema = readFileSync(schemaPath, 'utf8');
  const schemaCheck = engine.checkParseSchema(schema);
  if (schemaCheck.type === 'failure') {
    return refused(
      policiesDir,
      schemaCheck.errors.map((error) => describe(schemaPath, schema, 0, error)),
    );
  }
  const files = readdirSync(policiesDir)
    .filter((name) => name.endsWith('.cedar'))
    .sort();
  if (files.length === 0) return refused(policiesDir, ['no *.cedar policy files found']);

  const problems: string[] = [];
  const digest = createHash('sha256').update(`${schemaFile}\0${schema}\0`);
  const texts = new Map<string, string>();
  const evaluated: Record<string, PolicyJson> = {};
  const jsons: PolicyJson[] = [];
  const policies: PolicyInfo[] = [];
  const located = new Map<string, { file: string; text: string; base: number }>();
  for (const name of files) {
    const file = join(policiesDir, name);
    const text = readFileSync(file, 'utf8');
    digest.update(`${name}\0${text}\0`);
    const parts = engine.policySetTextToParts(text);
    if (parts.type === 'failure') {
      problems.push(...parts.errors.map((error) => describe(file, text, 0, error)));
      continue;
    }
    if (parts.policy_templates.length > 0) problems.push(`${file}: policy templates are not supported`);
    let searchFrom = 0;
    for (const part of parts.policies) {
      const base = Math.max(text.indexOf(part, searchFrom), 0);
      searchFrom = base + part.length;
      const parsed = engine.policyToJson(part);
      if (parsed.type === 'failure') {
        problems.push(...parsed.errors.map((error) => describe(file, text, base, error)));
        continue;
      }
      const info = readPolicyInfo(parsed.json, file);
      if (typeof info === 'string') {
        problems.push(`${file}:${position(text, base)}: ${info}`);
        continue;
      }
      if (reservedIds.has(info.id) || located.has(info.id)) {
        const other = located.get(info.id)?.file;
        problems.push(
          `${file}:${position(text, base)}: policy id "${info.id}" is ${other ? `already used in ${other}` : 'reserved'}`,
        );
        continue;
      }
      located.set(info.id, { file, text, base });
      texts.set(info.id, part);
      policies.push(info);
      jsons.push(parsed.json);
      // Every policy is evaluated as a permit so that one call reports every satisfied policy;
      // the outcome is then computed from the annotations (see decide.ts).
      const { annotations: _annotations, ...body } = parsed.json;
      evaluated[info.id] = { ...body, effect: 'permit' };
    }
  }
  if (problems.length > 0) return refused(policiesDir, problems);

  const validation = engine.validate({
    schema,
    policies: { staticPolicies: Object.fromEntries(texts) },
    validationSettings: { mode: 'strict' },
  });
  if (validation.type === 'failure') {
    return refused(
      policiesDir,
      validation.errors.map((error) => describe(schemaPath, schema, 0, error)),
    );
  }
  for (const { policyId, error } of validation.validationErrors) {
    const where = located.get(policyId);
    problems.push(
      where ? describe(where.file, where.text, where.base, error) : `policy "${policyId}": ${error.message}`,
    );
  }
  if (problems.length > 0) return refused(policiesDir, problems);

  const hex = digest.digest('hex');
  const policySetId = `aicloud-${hex}`;
  const prepared = engine.preparsePolicySet(policySetId, { staticPolicies: evaluated });
  const preparedSchema = engine.preparseSchema(policySetId, schema);
  for (const answer of [prepared, preparedSchema]) {
    if (answer.type === 'failure')
      return refused(
        policiesDir,
        answer.errors.map((error) => error.message),
      );
  }
  return {
    ok: true,
    policySet: {
      digest: `sha256:${hex}`,
      policySetId,
      schemaName: policySetId,
      policies,
      byId: new Map(policies.map((info, index) => [info.id, { info, index }])),
      plan: planPayload(jsons),
      actionEntities: actionEntities(engine, schema),
    },
  };
}
