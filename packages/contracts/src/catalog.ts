import { z } from 'zod';
import { Duration } from './duration.ts';

/** What a product kind is for. */
export const ProductKind = z.enum(['fine-tune', 'training', 'batch-inference', 'notebook', 'endpoint']);
export type ProductKind = z.infer<typeof ProductKind>;

/** How a product uses spot capacity: never, always, or when the caller asks (`--spot`). */
export const SpotPolicy = z.enum(['on-demand', 'spot', 'auto']);
export type SpotPolicy = z.infer<typeof SpotPolicy>;

/** Hourly prices in USD for one GPU (or the CPU machine, under `cpu`). */
export const Price = z.strictObject({ onDemand: z.number().nonnegative(), spot: z.number().nonnegative() });

/** A curated compute product of the catalog, as written in `catalog/*.yaml` or through the API. */
export const ProductSpec = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{1,39}$/),
  kind: ProductKind,
  description: z.string().default(''),
  gpu: z.strictObject({
    types: z.array(z.string()),
    min: z.number().int().nonnegative(),
    max: z.number().int().nonnegative(),
  }),
  cpus: z.number().int().positive(),
  memoryGiB: z.number().positive(),
  maxDuration: Duration,
  idleDuration: Duration.optional(),
  /** What the product's workloads reach: nothing, the platform's API only, or the network; `allowed` is the old name of `open`. */
  egress: z.enum(['blocked', 'platform', 'open', 'allowed']).default('platform'),
  spotPolicy: SpotPolicy,
  graceSeconds: z.number().int().min(0).max(600).default(30),
  prices: z.record(z.string(), Price),
  /**
   * The executor the product's workloads run on, by the name the platform gives it (`local`, `slurm`); one
   * the platform was not started with is refused when a workload would start, naming those it has.
   */
  executor: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'an executor name: lower-case letters, digits and -')
    .default('local'),
  /** The container image its workloads run in, for executors that run containers (Kubernetes); the local and Slurm executors use the host's software. */
  image: z.string().min(1).max(512).optional(),
});
export type ProductSpec = z.infer<typeof ProductSpec>;

/** A product as the API returns it. */
export const Product = ProductSpec.extend({
  maxDurationSeconds: z.number(),
  idleDurationSeconds: z.number().nullable(),
  source: z.enum(['file', 'api']),
  updatedAt: z.string(),
});
export type Product = z.infer<typeof Product>;
