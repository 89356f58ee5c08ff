import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { portalMessage } from '../session.ts';

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
        {portalMessage(query.error)}
      </p>
    );
  }
  return <>{children(query.data)}</>;
}
