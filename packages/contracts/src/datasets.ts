import { z } from 'zod';

/** Sensitivity of a dataset. */
export const Classification = z.enum(['public', 'internal', 'confidential', 'pii']);
export type Classification = z.infer<typeof Classification>;

/** A dataset path: `projects/<team>/datasets/<name>`. */
export const DatasetPath = z
  .string()
  .regex(
    /^projects\/[a-z][a-z0-9-]{1,39}\/datasets\/[A-Za-z0-9._-]+$/,
    'must look like projects/<team>/datasets/<name>',
  );

/** Register a dataset. */
export const RegisterDatasetRequest = z.strictObject({
  path: DatasetPath,
  location: z.string().min(3).max(1000),
  encrypted: z.boolean().default(false),
  classification: Classification.optional(),
  tags: z.record(z.string().min(1).max(64), z.string().max(256)).default({}),
});
export type RegisterDatasetRequest = z.infer<typeof RegisterDatasetRequest>;

/** A registered dataset. */
export const Dataset = z.object({
  path: z.string(),
  team: z.string(),
  location: z.string(),
  encrypted: z.boolean(),
  classification: Classification.nullable(),
  tags: z.record(z.string(), z.string()),
  inApprovedLocation: z.boolean(),
  registeredBy: z.string(),
  createdAt: z.string(),
});
export type Dataset = z.infer<typeof Dataset>;
