import { z } from 'zod';
import { Duration } from './duration.ts';
import { notebookStatuses } from './status-values.ts';

/** Where a notebook is in its life. */
export const NotebookStatus = z.enum(notebookStatuses);
export type NotebookStatus = z.infer<typeof NotebookStatus>;

/** Start a notebook (a Jupyter server) from a catalog product of kind `notebook`. */
export const CreateNotebookRequest = z.strictObject({
  product: z.string().min(1).default('notebook-gpu'),
  team: z.string().optional(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, dot, dash, underscore; 1-63 characters')
    .optional(),
  /** GPUs; the product's default (one where it offers GPUs) when absent. */
  gpus: z.number().int().min(0).max(64).optional(),
  gpuType: z.string().optional(),
  /** Stop after this long without activity; at most the product's idle duration. */
  idleTimeout: Duration.optional(),
});
export type CreateNotebookRequest = z.input<typeof CreateNotebookRequest>;

/** Filters of `GET /v1/notebooks`. */
export const NotebookQuery = z.strictObject({
  team: z.string().optional(),
  status: NotebookStatus.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type NotebookQuery = z.infer<typeof NotebookQuery>;

/** A stop the platform announced ahead of time. */
export const NotebookWarning = z.object({
  /** `idle` or `max_lifetime`. */
  kind: z.enum(['idle', 'max_lifetime']),
  /** When the warning was given. */
  at: z.string(),
  /** When the notebook stops unless there is activity (idle) or ever (max_lifetime). */
  stopsAt: z.string(),
  message: z.string(),
});
export type NotebookWarning = z.infer<typeof NotebookWarning>;

/** A notebook as the API returns it; the Jupyter token is never part of it. */
export const Notebook = z.object({
  id: z.string(),
  name: z.string(),
  team: z.string(),
  owner: z.string(),
  product: z.string(),
  gpus: z.number(),
  gpuType: z.string().nullable(),
  gpuIndexes: z.array(z.number()),
  status: NotebookStatus,
  /** `blocked`: the notebook runs in its own network namespace and reaches nothing but the platform. */
  egress: z.enum(['blocked', 'allowed']),
  /** Where the notebook is reached through the platform (open it with a login URL). */
  path: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  lastActivityAt: z.string().nullable(),
  idleTimeoutSeconds: z.number(),
  maxLifetimeSeconds: z.number(),
  /** When the notebook stops if it stays idle (never later than maxLifetimeAt); null once stopped. */
  idleDeadline: z.string().nullable(),
  /** The hard end of the notebook's life. */
  maxLifetimeAt: z.string().nullable(),
  snoozedUntil: z.string().nullable(),
  warning: NotebookWarning.nullable(),
  stoppedAt: z.string().nullable(),
  /** `user`, `idle`, `idle_gpu` (its GPUs stayed idle; policy), `max_lifetime`, `exited`, `start_failed`, `lost`. */
  stopReason: z.string().nullable(),
  stopMessage: z.string().nullable(),
  /** USD per hour while it runs. */
  pricePerHour: z.number(),
  /** USD it costs at most (price × max lifetime). */
  estimatedCost: z.number(),
  /** USD accrued so far. */
  cost: z.number(),
});
export type Notebook = z.infer<typeof Notebook>;

/** A one-time, short-lived URL that signs the browser in to one notebook. */
export const NotebookLoginUrl = z.object({
  /** Absolute URL on the server's own address. */
  url: z.string(),
  /** The same without scheme and host, for clients that know the server's address better. */
  path: z.string(),
  expiresAt: z.string(),
});
export type NotebookLoginUrl = z.infer<typeof NotebookLoginUrl>;
