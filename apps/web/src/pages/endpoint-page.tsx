import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { EndpointDashboard } from '../components/endpoint-dashboard.tsx';
import { EndpointDetails } from '../components/endpoint-details.tsx';
import { Link } from '../components/link.tsx';
import { QueryState } from './query-state.tsx';

/** An endpoint at its own URL (`/endpoints/NAME`): dashboard (traffic, latency, drift, economics, GPUs), replicas, keys, scale, delete. */
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
      <QueryState query={endpoint}>
        {(data) => (
          <>
            <EndpointDashboard client={client} endpoint={data} />
            <EndpointDetails key={data.name} client={client} endpoint={data} />
          </>
        )}
      </QueryState>
    </section>
  );
}
