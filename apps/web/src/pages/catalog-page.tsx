import type { Client } from '@aicloud/client';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ProductCard } from '../components/product-card.tsx';
import { QueryState } from './query-state.tsx';

/** The compute catalog: curated products with their guardrails and prices, each with a launch form. */
export function CatalogPage({ client }: { client: Client }) {
  const products = useQuery({ queryKey: ['catalog'], queryFn: () => client.catalog.list() });
  const teams = useQuery({ queryKey: ['teams'], queryFn: () => client.teams.list() });
  const datasets = useQuery({ queryKey: ['datasets'], queryFn: () => client.datasets.list() });
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section>
      <h1>Catalog</h1>
      <p className="muted">
        Pick a product, describe the job, and see its cost and the policy decision before you submit.
      </p>
      <QueryState query={products}>
        {(data) => (
          <div className="cards">
            {data.items.map((product) => (
              <ProductCard
                key={product.name}
                client={client}
                product={product}
                teams={teams.data?.items ?? []}
                datasets={datasets.data?.items ?? []}
                open={open === product.name}
                onToggle={() => setOpen(open === product.name ? null : product.name)}
              />
            ))}
          </div>
        )}
      </QueryState>
    </section>
  );
}
