import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';

/** Loading, error or the data of a query, the same way on every page. */
export function QueryState<T>({
  query,
  children,
}: {
  query: UseQueryResult<T>;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <p className="muted">Loading…</p>;
  if (query.isError) {
    return (
      <p role="alert" className="error">
        {query.error.message}
      </p>
    );
  }
  return <>{children(query.data)}</>;
}
