import type { PipelineStepSpec } from '@aicloud/contracts';
import { jobPaths } from '../runner/job-paths.ts';
import type { Store } from '../store/open-store.ts';

/** The inputs of the job of a pipeline step: AICLOUD_INPUT_<STEP> → that dependency's output directory. */
export async function pipelineInputs(
  store: Store,
  dataDir: string,
  jobId: string,
): Promise<Record<string, string>> {
  const step = await store.db
    .selectFrom('pipeline_steps')
    .select(['pipeline_id', 'spec'])
    .where('job_id', '=', jobId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  if (!step) return {};
  const { dependsOn } = JSON.parse(step.spec) as PipelineStepSpec;
  if (dependsOn.length === 0) return {};
  const upstream = await store.db
    .selectFrom('pipeline_steps')
    .select(['name', 'job_id'])
    .where('pipeline_id', '=', step.pipeline_id)
    .where('name', 'in', dependsOn)
    .execute();
  const inputs: Record<string, string> = {};
  for (const dep of upstream) {
    if (dep.job_id)
      inputs[`AICLOUD_INPUT_${dep.name.toUpperCase()}`] = jobPaths(dataDir, dep.job_id).outputDir;
  }
  return inputs;
}
