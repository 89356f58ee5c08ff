import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../src/repo-paths.ts';

/** A small real model in `<work>/model`: the example fine-tune, trained briefly (quality does not matter). */
export function trainTinyModel(work: string, steps: number): string {
  execFileSync(
    process.execPath,
    [
      join(repoRoot, 'examples/fine-tune/train.mjs'),
      '--data',
      join(repoRoot, 'seed/datasets/legal-rag-v2'),
      '--output',
      join(work, 'model'),
      '--checkpoint-dir',
      join(work, 'checkpoints'),
    ],
    {
      env: { ...process.env, STEPS: String(steps), LOG_EVERY: String(steps), EVAL_EVERY: String(steps) },
      stdio: 'ignore',
    },
  );
  return join(work, 'model');
}
