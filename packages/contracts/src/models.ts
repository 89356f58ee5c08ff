import { z } from 'zod';

/** A model's name: unique within its team; `@` is left free for `NAME@VERSION`. */
export const ModelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, dot, dash, underscore; 1-63 characters');

/** An alias of a version (`champion`, `production`). */
export const ModelAlias = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'lower-case letters, digits and dashes, starting with a letter');

/** The runtime that serves a version (`aicloud-tiny`, `vllm`, `llama.cpp`, …). */
export const ModelRuntime = z
  .string()
  .regex(/^[a-z][a-z0-9.+-]{0,39}$/, 'lower-case letters, digits, dot, plus and dash');

/** Where a version comes from: `job:<id>`, `path:<local path>` or `hf://org/name@revision`. */
export const ModelSource = z
  .string()
  .min(4)
  .max(2000)
  .refine((value) => /^(job:|path:|hf:\/\/)/.test(value), {
    message: 'must be job:<id>, path:<absolute path> or hf://org/name@revision',
  });

/** Register a new version of a model (the model is created on its first version). */
export const RegisterModelRequest = z.strictObject({
  name: ModelName,
  team: z.string().optional(),
  source: ModelSource,
  runtime: ModelRuntime.optional(),
  metrics: z.record(z.string().min(1).max(64), z.number()).default({}),
  tags: z.record(z.string().min(1).max(64), z.string().max(256)).default({}),
  trustRemoteCode: z.boolean().default(false),
});
export type RegisterModelRequest = z.input<typeof RegisterModelRequest>;

/** Point an alias at a version. */
export const SetModelAliasRequest = z.strictObject({ version: z.number().int().min(1) });
export type SetModelAliasRequest = z.infer<typeof SetModelAliasRequest>;

/** The scanner's verdict on a version: blocked and quarantined versions never deploy. */
export const ScanVerdict = z.enum(['passed', 'needs_review', 'blocked', 'quarantined']);
export type ScanVerdict = z.infer<typeof ScanVerdict>;

/** One file of a version. */
export const ModelFile = z.object({ path: z.string(), sha256: z.string(), size: z.number() });
export type ModelFile = z.infer<typeof ModelFile>;

/** The security scan of a version: a file inventory with every pickle's imports judged. */
export const ModelScan = z.object({
  verdict: ScanVerdict,
  safetensorsPreferred: z.boolean(),
  problems: z.array(z.string()),
  files: z.array(
    z.object({
      path: z.string(),
      sha256: z.string(),
      size: z.number(),
      format: z.enum(['safetensors', 'pickle', 'zip-pickle', 'other']),
      verdict: ScanVerdict,
      imports: z.array(
        z.object({
          module: z.string(),
          name: z.string(),
          classification: z.enum(['allowed', 'dangerous', 'unknown']),
          reason: z.string(),
          entry: z.string().optional(),
        }),
      ),
      problems: z.array(z.string()),
      pickles: z.array(z.string()).optional(),
    }),
  ),
});
export type ModelScan = z.infer<typeof ModelScan>;

/** One immutable version of a model. */
export const ModelVersion = z.object({
  model: z.string(),
  team: z.string(),
  version: z.number(),
  source: z.string(),
  runtime: z.string(),
  files: z.array(ModelFile),
  digest: z.string().nullable(),
  artifactDir: z.string().nullable(),
  metrics: z.record(z.string(), z.number()),
  tags: z.record(z.string(), z.string()),
  scan: ModelScan,
  scanVerdict: ScanVerdict,
  trustRemoteCode: z.boolean(),
  lineage: z.object({ datasets: z.array(z.string()), jobId: z.string().nullable() }),
  aliases: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type ModelVersion = z.infer<typeof ModelVersion>;

/** A model: its versions' summary and aliases. */
export const Model = z.object({
  id: z.string(),
  name: z.string(),
  team: z.string(),
  latestVersion: z.number().nullable(),
  versionCount: z.number(),
  aliases: z.record(z.string(), z.number()),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type Model = z.infer<typeof Model>;

/** A model with its latest version. */
export const ModelDetail = Model.extend({ latest: ModelVersion.nullable() });
export type ModelDetail = z.infer<typeof ModelDetail>;

/** Which team's model a name means, when the caller sees several teams. */
export const ModelQuery = z.strictObject({ team: z.string().optional() });
export type ModelQuery = z.infer<typeof ModelQuery>;

/** The chain dataset → job → model version → endpoints. */
export const ModelLineage = z.object({
  model: z.string(),
  team: z.string(),
  version: z.number(),
  source: z.string(),
  scanVerdict: ScanVerdict,
  datasets: z.array(
    z.object({
      path: z.string(),
      registered: z.boolean(),
      classification: z.string().nullable(),
      location: z.string().nullable(),
      encrypted: z.boolean().nullable(),
    }),
  ),
  job: z
    .object({
      id: z.string(),
      name: z.string(),
      product: z.string(),
      owner: z.string(),
      status: z.string(),
      cost: z.number(),
    })
    .nullable(),
  endpoints: z.array(z.object({ name: z.string(), status: z.string().nullable() })),
});
export type ModelLineage = z.infer<typeof ModelLineage>;
