import type { Expr, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';

/** Which parts of a context record to send: `true` keeps the whole value, a map keeps only the named fields. */
export type KeepTree = true | Map<string, KeepTree>;

/** What a policy set can observe of a request, so the authorizer sends Cedar nothing more. */
export interface PayloadPlan {
  /** Names of entity attributes some policy reads; null keeps every attribute. */
  entityAttributes: string[] | null;
  /** The parts of the context some policy reads. */
  context: KeepTree;
  /** Whether some policy tests membership (`in`), so entities need their parents. */
  parents: boolean;
}

/** The plan that keeps everything, used when the request is validated against the schema. */
export const keepEverything: PayloadPlan = { entityAttributes: null, context: true, parents: true };

interface Walk {
  attributes: Set<string>;
  context: KeepTree;
  parents: boolean;
  opaque: boolean;
}

/** Reads a policy set (Cedar's JSON form) and finds the attributes, context fields and memberships it can observe. */
export function planPayload(policies: PolicyJson[]): PayloadPlan {
  const walk: Walk = { attributes: new Set(), context: new Map(), parents: false, opaque: false };
  for (const policy of policies) {
    for (const scope of [policy.principal, policy.resource]) {
      if (scope.op === 'in' || 'in' in scope) walk.parents = true;
    }
    for (const condition of policy.conditions) visit(condition.body, walk);
  }
  if (walk.opaque) return keepEverything;
  return { entityAttributes: [...walk.attributes], context: walk.context, parents: walk.parents };
}

/** The path of a chain of attribute accesses from a variable, such as `context.product.maxGpus`. */
function chainOf(expr: Expr): { root: string; path: string[] } | null {
  if ('Var' in expr) return { root: expr.Var as string, path: [] };
  if ('.' in expr) {
    const access = expr['.'] as { left: Expr; attr: string };
    const inner = chainOf(access.left);
    return inner && { root: inner.root, path: [...inner.path, access.attr] };
  }
  return null;
}

function keep(walk: Walk, path: string[]): void {
  if (walk.context === true) return;
  let node: Map<string, KeepTree> = walk.context;
  for (const [index, name] of path.entries()) {
    const child = node.get(name);
    if (child === true) return;
    if (index === path.length - 1) {
      node.set(name, true);
      return;
    }
    const next = child ?? new Map<string, KeepTree>();
    node.set(name, next);
    node = next;
  }
  walk.context = true;
}

/** Visits the left side of an attribute access: a chain there is a prefix, not a use of the whole value. */
function visitAccessed(expr: Expr, walk: Walk): void {
  if ('Var' in expr) return;
  if ('.' in expr) {
    const access = expr['.'] as { left: Expr; attr: string };
    walk.attributes.add(access.attr);
    visitAccessed(access.left, walk);
    return;
  }
  visit(expr, walk);
}

function visit(expr: Expr, walk: Walk): void {
  const [key, ...rest] = Object.keys(expr);
  if (key === undefined || rest.length > 0) {
    walk.opaque = true;
    return;
  }
  const body = (expr as Record<string, unknown>)[key];
  switch (key) {
    case 'Value':
    case 'Slot':
      return;
    case 'Var':
      if (body === 'context') keep(walk, []);
      return;
    case '.': {
      const access = body as { left: Expr; attr: string };
      walk.attributes.add(access.attr);
      const chain = chainOf(expr);
      if (chain?.root === 'context') keep(walk, chain.path);
      visitAccessed(access.left, walk);
      return;
    }
    case 'has': {
      const test = body as { left: Expr; attr: string | string[] };
      const names = typeof test.attr === 'string' ? [test.attr] : test.attr;
      for (const name of names) walk.attributes.add(name);
      const chain = chainOf(test.left);
      if (chain?.root === 'context') keep(walk, [...chain.path, ...names]);
      visitAccessed(test.left, walk);
      return;
    }
    case 'in':
      walk.parents = true;
      break;
    case 'is':
      if ((body as { in?: Expr }).in) walk.parents = true;
      break;
    case 'Set':
      for (const item of body as Expr[]) visit(item, walk);
      return;
    case 'Record':
      for (const item of Object.values(body as Record<string, Expr>)) visit(item, walk);
      return;
  }
  if (Array.isArray(body)) {
    for (const item of body as Expr[]) visit(item, walk);
    return;
  }
  if (typeof body !== 'object' || body === null) {
    walk.opaque = true;
    return;
  }
  const node = body as Record<string, Expr | undefined>;
  for (const part of ['left', 'right', 'arg', 'if', 'then', 'else', 'in']) {
    const child = node[part];
    if (child !== undefined) visit(child, walk);
  }
}
