import { AppError } from '../app-error.ts';

/** A state machine's transition table: for each status, the statuses it may move to (none: terminal). */
export type TransitionTable<S extends string> = { readonly [K in S]: readonly S[] };

/**
 * The statuses from which a workload of `kind` may move to `to`, narrowed to `from` when given: the
 * `WHERE status IN (…)` that guards every status write. A move no status may make is a programming error.
 */
export function sourcesOf<S extends string>(
  kind: string,
  table: TransitionTable<S>,
  to: S,
  from?: S | readonly S[],
): S[] {
  const asked =
    from === undefined ? undefined : typeof from === 'string' ? [from as S] : (from as readonly S[]);
  const sources = (Object.keys(table) as S[]).filter(
    (status) => table[status].includes(to) && (!asked || asked.includes(status)),
  );
  if (sources.length === 0)
    throw new AppError(
      'internal',
      `no ${kind} may move ${asked ? `from ${asked.join(' or ')} ` : ''}to ${to} (${kind} state table)`,
    );
  return sources;
}
