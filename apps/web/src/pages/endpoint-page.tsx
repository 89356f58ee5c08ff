import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { EndpointDashboard } from '../components/endpoint-dashboard.tsx';
import { EndpointDetails } from '../components/endpoint-details.tsx';
import { EndpointQuality } from '../components/endpoint-quality.tsx';
import { EndpointRollout } from '../components/endpoint-rollout.tsx';
import { Link } from '../components/link.tsx';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

/**
 * An endpoint at its own URL (`/endpoints/NAME`): dashboard (traffic, latency, drift, economics, GPUs), its
 * canary rollout (promote, abort), its quality runs by version, replicas, keys, scale, delete.
 */
export function EndpointPage({ client, name }: { client: Client; name: string }) {
  const endpoint = useQuery({
    queryKey: ['endpoints', 'one', name],
    queryFn: () => client.endpoints.get(name),
    refetchInterval: 5000,
  });
  return (
    <section data-testid="endpoint-page">
      <p className="crumbs">
        <Link href="/endpoints">Endpoints</Link> / <code>{name}</code>
      </p>
      <h1>{name}</h1>
      <p>
        <Link href={paths.lineage('endpoint', name)}>Lineage</Link>: the model version it serves, back to its
        data
      </p>
      <QueryState query={endpoint}>
        {(data) => (
          <>
            <EndpointDashboard client={client} endpoint={data} />
            <EndpointRollout client={client} endpoint={data} />
            <EndpointQuality client={client} endpoint={data} />
            <EndpointDetails key={data.name} client={client} endpoint={data} />
          </>
        )}
      </QueryState>
    </section>
  );
}
