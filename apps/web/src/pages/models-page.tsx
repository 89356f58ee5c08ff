import type { Client } from '@aicloud/client';
import type { Model } from '@aicloud/contracts';
import { useQuery } from '@tanstack/react-query';
import { time } from '../components/format.ts';
import { Link, rowLink } from '../components/link.tsx';
import { ResponsiveTable } from '../components/responsive-table.tsx';
import { ScanBadge } from '../components/scan-badge.tsx';
import { paths } from '../use-route.ts';
import { QueryState } from './query-state.tsx';

/** The models of your teams; a row opens the model's own page (versions, lineage, deploy). */
export function ModelsPage({ client }: { client: Client }) {
  const models = useQuery({
    queryKey: ['models', 'list'],
    queryFn: () => client.models.list(),
    refetchInterval: 10_000,
  });
  return (
    <section>
      <h1>Models</h1>
      <QueryState query={models}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted" data-testid="models-empty">
              No models yet: register one with <code>aicloud models register</code>.
            </p>
          ) : (
            <ResponsiveTable>
              <table className="clickable" data-testid="models-table">
                <thead>
                  <tr>
                    <th>Model</th>
                    <th>Team</th>
                    <th>Latest</th>
                    <th>Versions</th>
                    <th>Aliases</th>
                    <th>Created</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((model) => (
                    <ModelRow key={model.id} client={client} model={model} />
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

function ModelRow({ client, model }: { client: Client; model: Model }) {
  const detail = useQuery({
    queryKey: ['models', 'show', model.team, model.name],
    queryFn: () => client.models.show(model.name, model.team),
  });
  const latest = detail.data?.latest ?? null;
  const href = paths.model(model.team, model.name);
  return (
    <tr data-testid={`model-row-${model.name}`} {...rowLink(href)}>
      <td>
        <Link href={href} className="id-link">
          {model.name}
        </Link>
      </td>
      <td>{model.team}</td>
      <td>
        {model.latestVersion ?? '—'} {latest && <ScanBadge verdict={latest.scanVerdict} />}
      </td>
      <td>{model.versionCount}</td>
      <td>
        {Object.entries(model.aliases).length === 0
          ? '—'
          : Object.entries(model.aliases).map(([alias, version]) => (
              <span key={alias} className="kind">
                {alias}→{version}
              </span>
            ))}
      </td>
      <td>{time(model.createdAt)}</td>
    </tr>
  );
}
