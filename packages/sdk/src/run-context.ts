import { type Client, createClient } from '@aicloud/client';

/** What a workload knows about itself from the environment the platform gives it. */
export interface RunContext {
  jobId: string | null;
  outputDir: string | null;
  checkpointDir: string | null;
  datasets: string[];
  /** A client scoped to this job (its run token), or null outside the platform. */
  client: Client | null;
}

/** Reads the run's context from `AICLOUD_*` environment variables. */
export function runContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const url = env.AICLOUD_URL;
  const token = env.AICLOUD_RUN_TOKEN;
  return {
    jobId: env.AICLOUD_JOB_ID ?? null,
    outputDir: env.AICLOUD_OUTPUT_DIR ?? null,
    checkpointDir: env.AICLOUD_CHECKPOINT_DIR ?? null,
    datasets: env.AICLOUD_DATASETS ? env.AICLOUD_DATASETS.split(':').filter(Boolean) : [],
    client: url && token ? createClient({ url, token }) : null,
  };
}
