import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarEngine } from './cedar-engine.ts';

/** The schema's actions that belong to action groups, as entities Cedar needs to evaluate `action in <group>`. */
export function actionEntities(engine: CedarEngine, schema: string): EntityJson[] {
  const answer = engine.schemaToJson(schema);
  if (answer.type === 'failure') return [];
  const actions = answer.json['']?.actions ?? {};
  const entities: EntityJson[] = [];
  for (const [id, action] of Object.entries(actions)) {
    const groups = action.memberOf ?? [];
    if (groups.length === 0) continue;
    entities.push({
      uid: { type: 'Action', id },
      attrs: {},
      parents: groups.map((group) => ({ type: group.type ?? 'Action', id: group.id })),
    });
  }
  return entities;
}
