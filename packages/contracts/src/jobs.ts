import { z } from 'zod';
import { DatasetPath } from './datasets.ts';
import { Duration } from './duration.ts';
import { admissionOutcomes, jobStatuses } from './status-values.ts';

/** Where a job is in its life. */
export const JobStatus = z.enum(jobStatuses);
export type JobStatus = z.infer<typeof JobStatus>;

/** An MLflow experiment's name: 1-256 characters, no control characters (the team's own; created if missing). */
export const ExperimentName = z
  .string()
  .min(1, 'an experiment name has 1-256 characters')
  .max(256, 'an experiment name has 1-256 characters')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'an experiment name has no control characters');

/** Submit a job from a catalog product. `dryRun` only answers what would happen. */
export const SubmitJobRequest = z.strictObject({
  product: z.string().min(1),
  team: z.string().optional(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, dot, dash, underscore; 1-63 characters')
    .optional(),
  gpus: z.number().int().min(0).max(1024).default(0),
  gpuType: z.string().optional(),
  datasets: z.array(DatasetPath).max(32).default([]),
  command: z.string().min(1).max(10_000).default('echo "hello from aicloud"'),
  maxRuntime: Duration.optional(),
  spot: z.boolean().default(false),
  secrets: z
    .array(z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'secret names are environment variable names'))
    .max(32)
    .default([]),
  executor: z.enum(['local', 'slurm']).optional(),
  /** The MLflow experiment the job's run lands in (default: the team's name). */
  experiment: ExperimentName.optional(),
  dryRun: z.boolean().default(false),
});
export type SubmitJobRequest = z.input<typeof SubmitJobRequest>;

/** One policy that took part in a decision. */
export const PolicyHit = z.object({
  policyId: z.string(),
  reason: z.string(),
  outcome: z.enum(['deny', 'require_approval', 'warn']),
  enforcement: z.enum(['deny', 'warn', 'dryrun']),
});
export type PolicyHit = z.infer<typeof PolicyHit>;

/** Why a job is where it is: what was asked, the limit, the rule, and the next command. */
export const JobReason = z.object({
  code: z.string(),
  message: z.string(),
  asked: z.string().nullable(),
  limit: z.string().nullable(),
  rule: z.string().nullable(),
  next: z.string().nullable(),
});
export type JobReason = z.infer<typeof JobReason>;

/** The guardrails that apply to a job, shown before it is submitted. */
export const Guardrails = z.object({
  maxRuntime: z.string(),
  maxRuntimeSeconds: z.number(),
  idleRule: z.string().nullable(),
  spotPolicy: z.string(),
  spot: z.boolean(),
  pricePerHour: z.number(),
  quota: z
    .object({ gpuType: z.string(), nominal: z.number(), used: z.number(), left: z.number() })
    .nullable(),
  budget: z
    .object({
      max: z.number(),
      used: z.number(),
      committed: z.number(),
      left: z.number(),
      period: z.string(),
    })
    .nullable(),
});
export type Guardrails = z.infer<typeof Guardrails>;

/** The admission decision for a job. */
export const Admission = z.object({
  outcome: z.enum(admissionOutcomes),
  estimatedCost: z.number(),
  guardrails: Guardrails,
  reasons: z.array(JobReason),
  warnings: z.array(PolicyHit),
  dryRun: z.array(PolicyHit),
  policySetDigest: z.string(),
  queuePosition: z.number().nullable(),
  approvalId: z.string().nullable(),
});
export type Admission = z.infer<typeof Admission>;

/** A job as the API returns it. */
export const Job = z.object({
  id: z.string(),
  name: z.string(),
  team: z.string(),
  owner: z.string(),
  product: z.string(),
  kind: z.string(),
  gpus: z.number(),
  gpuType: z.string().nullable(),
  spot: z.boolean(),
  datasets: z.array(z.string()),
  secrets: z.array(z.string()),
  command: z.string(),
  executor: z.string(),
  maxRuntimeSeconds: z.number(),
  status: JobStatus,
  reasons: z.array(JobReason),
  queuePosition: z.number().nullable(),
  estimatedCost: z.number(),
  reservedCost: z.number(),
  cost: z.number(),
  approvalId: z.string().nullable(),
  gpuIndexes: z.array(z.number()),
  /** Where the GPUs came from: the declared or detected inventory, or a cluster scheduler (Slurm) that picks them. */
  gpuSource: z.enum(['declared', 'detected', 'scheduler']).nullable(),
  exitCode: z.number().nullable(),
  /** The MLflow experiment its run lands in; null: the team's own (named after the team). */
  experiment: z.string().nullable(),
  createdAt: z.string(),
  admittedAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});
export type Job = z.infer<typeof Job>;

/** The answer to a submission: the job (null for a dry run) and its admission. */
export const SubmitJobResponse = z.object({ job: Job.nullable(), admission: Admission });
export type SubmitJobResponse = z.infer<typeof SubmitJobResponse>;

/** Filters for listing jobs. */
export const JobQuery = z.strictObject({
  team: z.string().optional(),
  status: JobStatus.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export type JobQuery = z.infer<typeof JobQuery>;

/** The policy decision recorded for a job: the policy set's digest and the determining policies. */
export const JobDecision = z.object({
  jobId: z.string(),
  status: JobStatus,
  policySetDigest: z.string(),
  determining: z.array(PolicyHit),
  warnings: z.array(PolicyHit),
  dryRun: z.array(PolicyHit),
  errors: z.array(z.string()),
  approvedBy: z.string().nullable(),
  reasons: z.array(JobReason),
});
export type JobDecision = z.infer<typeof JobDecision>;

/** A metric report from a job: a step and numeric values by name. */
export const ReportMetricsRequest = z.strictObject({
  step: z.number().optional(),
  metrics: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_./-]{0,127}$/), z.number()),
});
export type ReportMetricsRequest = z.infer<typeof ReportMetricsRequest>;

/** Stdout lines that looked like metric lines (`{"event":"metric",…}`) but did not parse: how many, and the first. */
export const MalformedMetrics = z.object({
  count: z.number(),
  first: z.object({ line: z.string(), error: z.string(), time: z.string() }),
});
export type MalformedMetrics = z.infer<typeof MalformedMetrics>;

/** A job's metrics: one series per name, ordered by report. */
export const JobMetrics = z.object({
  jobId: z.string(),
  series: z.record(
    z.string(),
    z.array(z.object({ step: z.number().nullable(), value: z.number(), time: z.string() })),
  ),
  /** Lines that looked like metrics but did not parse; null when there were none. */
  malformed: MalformedMetrics.nullable().optional(),
});
export type JobMetrics = z.infer<typeof JobMetrics>;

/** A team secret without its value. */
export const SecretInfo = z.object({
  team: z.string(),
  name: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SecretInfo = z.infer<typeof SecretInfo>;
