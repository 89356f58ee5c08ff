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

/**
 * Register a dataset. The location must lie in the team's own part of the lake (`<lake>/<team>/…`) to be
 * approved; `encrypted` and `classification` are the registrant's claims, facts only once a platform-admin
 * attests them (a platform-admin's registration attests them at once).
 */
export const RegisterDatasetRequest = z.strictObject({
  path: DatasetPath,
  location: z.string().min(3).max(1000),
  encrypted: z.boolean().default(false),
  classification: Classification.optional(),
  tags: z.record(z.string().min(1).max(64), z.string().max(256)).default({}),
});
export type RegisterDatasetRequest = z.infer<typeof RegisterDatasetRequest>;

/** A platform-admin's attestation of a dataset's encryption and classification (the facts policies read). */
export const AttestDatasetRequest = z.strictObject({
  path: DatasetPath,
  encrypted: z.boolean().optional(),
  classification: Classification.optional(),
});
export type AttestDatasetRequest = z.infer<typeof AttestDatasetRequest>;

/** A registered dataset. */
export const Dataset = z.object({
  path: z.string(),
  team: z.string(),
  /** Canonical: percent-decoded, `.`/`..` resolved, links resolved where it exists. */
  location: z.string(),
  /** A fact: attested, or under a prefix the platform knows is encrypted. */
  encrypted: z.boolean(),
  /** A fact: attested by a platform-admin; null until then. */
  classification: Classification.nullable(),
  /** What the registrant declared. */
  claimed: z.object({ encrypted: z.boolean(), classification: Classification.nullable() }),
  attestedBy: z.string().nullable(),
  attestedAt: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
  inApprovedLocation: z.boolean(),
  registeredBy: z.string(),
  createdAt: z.string(),
});
export type Dataset = z.infer<typeof Dataset>;
