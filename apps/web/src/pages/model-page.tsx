import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { Link } from '../components/link.tsx';
import { ModelVersions } from '../components/model-versions.tsx';
import { QueryState } from './query-state.tsx';

/** A model at its own URL (`/models/TEAM/NAME`): its versions, lineage and deploy form. */
export function ModelPage({ client, team, name }: { client: Client; team: string; name: string }) {
  const model = useQuery({
    queryKey: ['models', 'show', team, name],
    queryFn: () => client.models.show(name, team),
    refetchInterval: 10_000,
  });
  return (
    <section data-testid="model-page">
      <p className="crumbs">
        <Link href="/models">Models</Link> / {team} / <code>{name}</code>
      </p>
      <h1>{name}</h1>
      <QueryState query={model}>{(data) => <ModelVersions client={client} model={data} />}</QueryState>
    </section>
  );
}
