import type { Client } from '@aicloud/client';
import { type LineageDirection, LineageRootKind, routes } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { LineageGraph } from '../components/lineage-graph.tsx';
import { Link } from '../components/link.tsx';
import { QueryState } from './query-state.tsx';

/**
 * The lineage of a dataset, a model version or an endpoint at its own URL (`/lineage/KIND/REF`): one graph
 * from the dataset's content hash through pipeline runs and jobs to model versions and the endpoints serving
 * them, limited to what the member's teams may see.
 */
export function LineagePage({
  client,
  kind,
  reference,
}: {
  client: Client;
  kind: string;
  reference: string;
}) {
  const [direction, setDirection] = useState<LineageDirection>('both');
  const root = LineageRootKind.safeParse(kind);
  const graph = useQuery({
    queryKey: ['lineage', kind, reference, direction],
    queryFn: () => client.call(routes.getLineage, { params: { kind, ref: reference }, query: { direction } }),
    enabled: root.success,
  });
  return (
    <section data-testid="lineage-page">
      <p className="crumbs">
        Lineage / {kind} / <code>{reference}</code>
      </p>
      <h1>Lineage of {reference}</h1>
      {!root.success ? (
        <p role="alert" className="error">
          No lineage for “{kind}”: pick a dataset, a model version or an endpoint (
          <Link href="/models">Models</Link>, <Link href="/endpoints">Endpoints</Link>).
        </p>
      ) : (
        <>
          <label>
            Direction{' '}
            <select
              value={direction}
              onChange={(event) => setDirection(event.target.value as LineageDirection)}
            >
              <option value="both">upstream and downstream</option>
              <option value="up">upstream (where it came from)</option>
              <option value="down">downstream (where it went)</option>
            </select>
          </label>
          <QueryState query={graph}>
            {(data) => (
              <section className="panel" aria-label="Lineage graph">
                <p className="muted small">
                  {data.nodes.length} nodes, {data.edges.length} edges
                  {data.truncated ? ' (cut at the node limit: start from a nearer node)' : ''}
                </p>
                <LineageGraph graph={data} />
              </section>
            )}
          </QueryState>
        </>
      )}
    </section>
  );
}
