import { AttestDatasetRequest, Dataset, Product, RegisterDatasetRequest } from '@aicloud/contracts';
import { z } from 'zod';
import { defineRoute, type RouteDeps } from '../route.ts';

/** The compute catalog and the dataset registry. */
export function catalogRoutes({ catalog, datasets }: RouteDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/catalog',
      summary: 'Compute products of the catalog',
      tag: 'catalog',
      response: z.object({ items: z.array(Product) }),
      handler: async () => ({ items: await catalog.list() }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/catalog/:name',
      summary: 'One product',
      tag: 'catalog',
      response: Product,
      handler: ({ params }) => catalog.get(params.name!),
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/catalog/:name',
      summary: 'Create or replace a product (platform-admins only)',
      tag: 'catalog',
      body: z.record(z.string(), z.unknown()),
      response: Product,
      handler: ({ actor, params, body }) => catalog.put(actor, { ...body, name: params.name }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/datasets',
      summary: "Registered datasets of the caller's teams",
      tag: 'datasets',
      response: z.object({ items: z.array(Dataset) }),
      handler: async ({ actor }) => ({ items: await datasets.list(actor) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/datasets',
      summary: 'Register a dataset under projects/<your team>/datasets/',
      tag: 'datasets',
      body: RegisterDatasetRequest,
      response: Dataset,
      status: 201,
      handler: ({ actor, body }) => datasets.register(actor, body),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/datasets/attestations',
      summary:
        "Attest a dataset's encryption and classification, the facts policies read (platform-admins only)",
      tag: 'datasets',
      body: AttestDatasetRequest,
      response: Dataset,
      handler: ({ actor, body }) => datasets.attest(actor, body),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/datasets/*',
      summary: 'One dataset by its path (projects/<team>/datasets/<name>)',
      tag: 'datasets',
      response: Dataset,
      handler: ({ actor, params }) => datasets.get(actor, params['*']!),
    }),
  ];
}
