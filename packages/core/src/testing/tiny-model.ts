import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '../../../..');

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

/** A seeded generator (mulberry32) of numbers in [0, 1): the same generated traffic on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
