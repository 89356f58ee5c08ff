import { z } from 'zod';
import { Product } from '../catalog.ts';
import { contractRoute, itemsOf } from '../contract-route.ts';
import { AttestDatasetRequest, Dataset, RegisterDatasetRequest } from '../datasets.ts';

/** The compute catalog and the dataset registry. */
export const catalogRoutes = {
  listProducts: contractRoute({
    method: 'GET',
    path: '/v1/catalog',
    summary: 'Compute products of the catalog',
    tag: 'catalog',
    response: itemsOf(Product),
  }),
  getProduct: contractRoute({
    method: 'GET',
    path: '/v1/catalog/:name',
    summary: 'One product',
    tag: 'catalog',
    response: Product,
  }),
  putProduct: contractRoute({
    method: 'PUT',
    path: '/v1/catalog/:name',
    summary: 'Create or replace a product (platform-admins only)',
    tag: 'catalog',
    // The catalog service validates the product itself (with the catalog file's rules).
    body: z.record(z.string(), z.unknown()),
    response: Product,
  }),
  listDatasets: contractRoute({
    method: 'GET',
    path: '/v1/datasets',
    summary: "Registered datasets of the caller's teams",
    tag: 'datasets',
    response: itemsOf(Dataset),
  }),
  registerDataset: contractRoute({
    method: 'POST',
    path: '/v1/datasets',
    summary: 'Register a dataset under projects/<your team>/datasets/',
    tag: 'datasets',
    body: RegisterDatasetRequest,
    response: Dataset,
    status: 201,
  }),
  attestDataset: contractRoute({
    method: 'POST',
    path: '/v1/datasets/attestations',
    summary:
      "Attest a dataset's encryption and classification, the facts policies read (platform-admins only)",
    tag: 'datasets',
    body: AttestDatasetRequest,
    response: Dataset,
  }),
  getDataset: contractRoute({
    method: 'GET',
    path: '/v1/datasets/*',
    summary: 'One dataset by its path (projects/<team>/datasets/<name>)',
    tag: 'datasets',
    response: Dataset,
  }),
};
