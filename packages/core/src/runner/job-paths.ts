import { join } from 'node:path';

/** Where a job's files live in the data dir; the same after a restart, so workloads can be reattached. */
export function jobPaths(dataDir: string, jobId: string) {
  const root = join(dataDir, 'jobs', jobId);
  return {
    root,
    workDir: join(root, 'work'),
    logFile: join(root, 'job.log'),
    outputDir: join(root, 'output'),
    checkpointDir: join(root, 'checkpoints'),
  };
}
