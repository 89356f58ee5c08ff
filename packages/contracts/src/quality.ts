import { z } from 'zod';
import { DatasetPath } from './datasets.ts';
import { Duration } from './duration.ts';

/** `aicloud endpoints eval NAME --dataset PATH [--every 1h] [--judge ENDPOINT]`: run now, optionally on a schedule. */
export const EvaluateEndpointRequest = z.strictObject({
  /** A registered dataset of the endpoint's team: a JSONL file of `{"prompt": …, "reference": …}` lines. */
  dataset: DatasetPath,
  /** Run again this often (the controller loop); absent: once. */
  every: Duration.optional(),
  /** Another endpoint of the team that grades each answer 0–10. */
  judge: z.string().min(1).max(63).optional(),
});
export type EvaluateEndpointRequest = z.infer<typeof EvaluateEndpointRequest>;

/** One evaluation of an endpoint's version: scores 0–1 (null where not measured). */
export const EndpointEval = z.object({
  id: z.string(),
  endpoint: z.string(),
  team: z.string(),
  model: z.string(),
  version: z.number().int(),
  dataset: z.string(),
  judge: z.string().nullable(),
  /** `rollout`: a canary's new version, scored before it takes more traffic. */
  trigger: z.enum(['manual', 'schedule', 'rollout']),
  samples: z.number().int(),
  /** Prompts the endpoint did not answer (they score 0). */
  failed: z.number().int(),
  exactMatch: z.number().nullable(),
  f1: z.number().nullable(),
  judgeScore: z.number().nullable(),
  createdBy: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type EndpointEval = z.infer<typeof EndpointEval>;

/** An endpoint's evaluation set and schedule, and its runs (newest first). */
export const EndpointEvals = z.object({
  schedule: z
    .object({
      dataset: z.string(),
      judge: z.string().nullable(),
      everySeconds: z.number().int().nullable(),
      nextRunAt: z.string().nullable(),
    })
    .nullable(),
  items: z.array(EndpointEval),
});
export type EndpointEvals = z.infer<typeof EndpointEvals>;
