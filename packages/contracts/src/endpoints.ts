import { z } from 'zod';
import { Duration } from './duration.ts';
import { endpointStatuses } from './status-values.ts';

/**
 * A number from `min` to `max` (a whole one when `whole`); out of range, the message says what was given and
 * what is allowed.
 */
function between(min: number, max: number, allowed: string, whole = false) {
  const error = (issue: { input?: unknown }) =>
    `${JSON.stringify(issue.input)} is out of range: must be ${allowed}`;
  const number = z
    .number({ error: () => `must be a number: ${allowed}` })
    .min(min, { error })
    .max(max, { error });
  return whole
    ? number.int({ error: (issue) => `${JSON.stringify(issue.input)} is not whole: must be ${allowed}` })
    : number;
}

/** Deploy a model version as a private OpenAI-compatible endpoint. */
export const DeployModelRequest = z.strictObject({
  model: z.string().min(1),
  /** A version number or an alias (`champion`). */
  version: z.union([z.number().int().positive(), z.string().min(1)]),
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,62}$/, 'lower-case letters, digits and dashes')
    .optional(),
  team: z.string().optional(),
  product: z.string().default('realtime-endpoint'),
  gpus: z.number().int().min(0).max(8).default(0),
  gpuType: z.string().optional(),
  minReplicas: z.number().int().min(0).max(16).default(1),
  maxReplicas: z.number().int().min(1).max(16).default(1),
  scaleToZero: z.boolean().default(false),
  targetConcurrency: z.number().int().min(1).max(1000).default(4),
  idleTimeout: Duration.optional(),
  /** Browser origins (`https://app.example.com`, or `*`) that may call its OpenAI surface; none: CORS off. */
  corsOrigins: z
    .array(
      z
        .string()
        .regex(/^(\*|https?:\/\/[a-z0-9.-]+(:\d{1,5})?)$/, 'an origin such as https://app.example.com, or *'),
    )
    .max(16)
    .optional(),
  /**
   * Onto an endpoint that already serves a version: the share of traffic (percent) the new version takes
   * first (default 10); it doubles at each analysis step that passes, then the version is promoted.
   */
  canary: z.number().int().min(1).max(100).optional(),
  /** How long each canary step is analysed (default 5m). */
  analysisWindow: Duration.optional(),
  /** Requests the canary must answer in a step before it is judged (default 20). */
  minRequests: z.number().int().min(1).max(1_000_000).optional(),
  /**
   * Instead of `canary`: every step's share of traffic (percent, rising), e.g. `[10, 20, 40, 80]`; the version
   * is promoted after the last.
   */
  canarySteps: z
    .array(
      z
        .number()
        .int()
        .min(1, 'each step must be from 1 to 100 (percent)')
        .max(100, 'each step must be from 1 to 100 (percent)'),
    )
    .min(1, 'give from 1 to 10 steps')
    .max(10, 'give from 1 to 10 steps')
    .refine((steps) => steps.every((weight, index) => index === 0 || weight > steps[index - 1]!), {
      error: (issue) =>
        `${JSON.stringify(issue.input)} does not rise: each step must take more traffic than the one before`,
    })
    .optional(),
  /** How much higher (a fraction: 0.05 = 5 points) the canary's error rate may be than the serving one's (default 0.05). */
  maxErrorRateIncrease: between(
    0,
    1,
    'a fraction from 0 to 1 (0.05 = 5 points above the serving version)',
  ).optional(),
  /** How many times the serving version's p99 latency the canary's may reach (default 1.5), plus the allowance. */
  maxLatencyRatio: between(
    1,
    100,
    "from 1 to 100 (1.5: the canary's p99 may be 1.5x the serving version's)",
  ).optional(),
  /** Milliseconds the canary's p99 may exceed the ratio by: noise on fast answers is no regression (default 50). */
  latencyAllowanceMs: between(0, 60_000, 'whole milliseconds from 0 to 60000', true).optional(),
  /** How much lower (absolute, 0–1) the canary's quality score (F1 or judge) may be than the serving one's (default 0.05). */
  maxQualityDrop: between(
    0,
    1,
    'a score drop from 0 to 1 (0.05: F1 or judge score at most 0.05 lower)',
  ).optional(),
});
export type DeployModelRequest = z.input<typeof DeployModelRequest>;

/** The figures of one version over one analysis step. */
export const RolloutFigures = z.object({
  requests: z.number(),
  errors: z.number(),
  errorRate: z.number().nullable(),
  latencyP99Ms: z.number().nullable(),
});
export type RolloutFigures = z.infer<typeof RolloutFigures>;

/**
 * What each step of a rollout is judged against, set at deploy: the canary's error rate at most
 * `maxErrorRateIncrease` (a fraction) above the serving version's, its p99 at most `maxLatencyRatio` times the
 * serving one's plus `latencyAllowanceMs`, its quality score at most `maxQualityDrop` below.
 */
const RolloutThresholds = z.object({
  maxErrorRateIncrease: z.number(),
  maxLatencyRatio: z.number(),
  latencyAllowanceMs: z.number(),
  maxQualityDrop: z.number(),
});

/** One decision of a canary rollout, with the figures it was taken on. */
export const RolloutDecision = z.object({
  at: z.string(),
  step: z.number(),
  weight: z.number(),
  decision: z.enum(['advance', 'promote', 'rollback', 'abort']),
  reason: z.string(),
  actor: z.string(),
  figures: z.object({
    canary: RolloutFigures.optional(),
    stable: RolloutFigures.optional(),
    quality: z
      .object({ metric: z.string(), canary: z.number().nullable(), stable: z.number().nullable() })
      .optional(),
    /** The thresholds the analysis applied (none on a person's promote or abort, nor on older decisions). */
    thresholds: RolloutThresholds.optional(),
  }),
});
export type RolloutDecision = z.infer<typeof RolloutDecision>;

/** A canary rollout of a new version beside the serving one. */
export const Rollout = z.object({
  id: z.string(),
  endpoint: z.string(),
  team: z.string(),
  model: z.string(),
  fromVersion: z.number(),
  toVersion: z.number(),
  status: z.enum(['progressing', 'promoted', 'rolled_back', 'aborted']),
  /** The canary's share of traffic now (percent; 0 once ended). */
  weight: z.number(),
  steps: z.array(z.number()),
  step: z.number(),
  analysisWindowSeconds: z.number(),
  minRequests: z.number(),
  thresholds: RolloutThresholds,
  /** Why the current step is not judged yet, if it is not. */
  waiting: z.string().nullable(),
  stepStartedAt: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  endedAt: z.string().nullable(),
  decisions: z.array(RolloutDecision),
});
export type Rollout = z.infer<typeof Rollout>;

/** Live numbers of an endpoint since the server started. */
export const EndpointStats = z.object({
  requests: z.number(),
  errors: z.number(),
  latencyP50Ms: z.number().nullable(),
  latencyP99Ms: z.number().nullable(),
  timeToFirstTokenP50Ms: z.number().nullable(),
  tokensPerSecond: z.number().nullable(),
  tokensIn: z.number(),
  tokensOut: z.number(),
  coldStarts: z.number(),
  lastColdStartMs: z.number().nullable(),
  inFlight: z.number(),
  drift: z.object({
    status: z.enum(['collecting', 'stable', 'moderate', 'shifted']),
    baselineSize: z.number(),
    windowSize: z.number(),
    features: z.partialRecord(
      // embedding_centroid_distance: endpoints that answer /v1/embeddings only.
      z.enum([
        'prompt_tokens',
        'completion_tokens',
        'latency_ms',
        'empty_answer',
        'embedding_centroid_distance',
      ]),
      z.object({ psi: z.number(), ks: z.number(), ksPValue: z.number() }),
    ),
  }),
});
export type EndpointStats = z.infer<typeof EndpointStats>;

/** Where an endpoint is in its life. */
export const EndpointStatus = z.enum(endpointStatuses);
export type EndpointStatus = z.infer<typeof EndpointStatus>;

/** A deployed endpoint. */
export const Endpoint = z.object({
  id: z.string(),
  name: z.string(),
  team: z.string(),
  model: z.string(),
  version: z.number(),
  runtime: z.string(),
  product: z.string(),
  gpus: z.number(),
  gpuType: z.string().nullable(),
  minReplicas: z.number(),
  maxReplicas: z.number(),
  targetConcurrency: z.number(),
  idleTimeoutSeconds: z.number(),
  /** Browser origins its OpenAI surface answers with CORS; empty: CORS off. */
  corsOrigins: z.array(z.string()).optional(),
  status: EndpointStatus,
  replicas: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      startedAt: z.string(),
      readyAt: z.string().nullable(),
    }),
  ),
  stats: EndpointStats,
  createdBy: z.string(),
  createdAt: z.string(),
  url: z.string(),
  /** Its newest canary rollout, if it had one. */
  rollout: Rollout.nullable().optional(),
});
export type Endpoint = z.infer<typeof Endpoint>;

/** Create a key for an endpoint, with optional limits. */
export const CreateKeyRequest = z.strictObject({
  endpoint: z.string().min(1),
  name: z.string().min(1).max(64).default('default'),
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  maxTokensPerPeriod: z.number().int().positive().optional(),
  /** The window `maxTokensPerPeriod` counts in, e.g. 30d or 24h (default 30d). */
  period: Duration.optional(),
});
export type CreateKeyRequest = z.input<typeof CreateKeyRequest>;

/** An endpoint key without its secret. */
export const EndpointKey = z.object({
  id: z.string(),
  endpoint: z.string(),
  team: z.string(),
  name: z.string(),
  prefix: z.string(),
  rpm: z.number().nullable(),
  tpm: z.number().nullable(),
  maxTokensPerPeriod: z.number().nullable(),
  period: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type EndpointKey = z.infer<typeof EndpointKey>;

/** A new key: the secret is in this response only. */
export const CreatedKey = EndpointKey.extend({ key: z.string() });
export type CreatedKey = z.infer<typeof CreatedKey>;

/** Scale an endpoint. */
export const ScaleEndpointRequest = z.strictObject({
  minReplicas: z.number().int().min(0).max(16).optional(),
  maxReplicas: z.number().int().min(1).max(16).optional(),
});
