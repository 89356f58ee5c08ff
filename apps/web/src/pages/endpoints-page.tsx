import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { ms } from '../components/endpoint-details.tsx';
import { Link, rowLink } from '../components/link.tsx';
import { StatusBadge } from '../components/outcome-badge.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

/** The endpoints of your teams with their live numbers, refreshed every 5 s; a row opens the endpoint's page. */
export function EndpointsPage({ client }: { client: Client }) {
  const endpoints = useQuery({
    queryKey: ['endpoints', 'list'],
    queryFn: () => client.endpoints.list(),
    refetchInterval: 5000,
  });
  return (
    <section>
      <h1>Endpoints</h1>
      <p className="muted small">refreshes every 5 s</p>
      <QueryState query={endpoints}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted" data-testid="endpoints-empty">
              No endpoints yet: deploy a model version whose scan passed from the Models page.
            </p>
          ) : (
            <ResponsiveTable>
              <table className="clickable" data-testid="endpoints-table">
                <thead>
                  <tr>
                    <th>Endpoint</th>
                    <th>Status</th>
                    <th>Model</th>
                    <th>Replicas</th>
                    <th>Requests</th>
                    <th>Errors</th>
                    <th>p50</th>
                    <th>p99</th>
                    <th>TTFT</th>
                    <th>Tokens/s</th>
                    <th>Cold starts</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((endpoint) => (
                    <tr
                      key={endpoint.id}
                      data-testid={`endpoint-row-${endpoint.name}`}
                      {...rowLink(paths.endpoint(endpoint.name))}
                    >
                      <td>
                        <Link href={paths.endpoint(endpoint.name)} className="id-link">
                          {endpoint.name}
                        </Link>
                      </td>
                      <td>
                        <StatusBadge status={endpoint.status} />
                      </td>
                      <td>
                        <code>
                          {endpoint.model}@{endpoint.version}
                        </code>
                      </td>
                      <td>
                        {endpoint.replicas.length}{' '}
                        <span className="muted small">
                          ({endpoint.minReplicas}–{endpoint.maxReplicas})
                        </span>
                      </td>
                      <td>{endpoint.stats.requests}</td>
                      <td>{endpoint.stats.errors}</td>
                      <td>{ms(endpoint.stats.latencyP50Ms)}</td>
                      <td>{ms(endpoint.stats.latencyP99Ms)}</td>
                      <td>{ms(endpoint.stats.timeToFirstTokenP50Ms)}</td>
                      <td>
                        {endpoint.stats.tokensPerSecond === null
                          ? '—'
                          : endpoint.stats.tokensPerSecond.toFixed(1)}
                      </td>
                      <td>{endpoint.stats.coldStarts}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ResponsiveTable>
          )
        }
      </QueryState>
    </section>
  );
}
