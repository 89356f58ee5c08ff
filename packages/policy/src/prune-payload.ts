import type { KeepTree } from './payload-plan.ts';

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !Object.hasOwn(value, '__entity') &&
    !Object.hasOwn(value, '__extn')
  );
}

/** Copies only the parts of a context value that the plan keeps. */
export function pruneContext(value: unknown, tree: KeepTree): unknown {
  if (tree === true || !isRecord(value)) return value;
  const kept: Record<string, unknown> = {};
  for (const [name, subtree] of tree) {
    if (Object.hasOwn(value, name)) kept[name] = pruneContext(value[name], subtree);
  }
  return kept;
}

/** Copies only the named attributes of an entity; null names keep them all. */
export function pickAttributes(
  attributes: Record<string, unknown>,
  names: string[] | null,
): Record<string, unknown> {
  if (names === null) return attributes;
  const kept: Record<string, unknown> = {};
  for (const name of names) {
    if (Object.hasOwn(attributes, name)) kept[name] = attributes[name];
  }
  return kept;
}
