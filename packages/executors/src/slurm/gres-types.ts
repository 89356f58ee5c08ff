import type { SlurmGresTypes } from './batch-script.ts';

/**
 * The GPU types a partition's nodes declare, from `sinfo -h -p P -o %G` (`gpu:a100:4(S:0-1)`,
 * `gpu:4,mps:100`, `(null)`): their names, or `untyped` when its GPUs have no `Type=` (or it has none).
 */
export function parseSinfoGres(output: string): string[] | 'untyped' {
  const types = new Set<string>();
  for (const line of output.split('\n')) {
    // Socket bindings `(S:0,1)` hold commas of their own.
    for (const item of line.replace(/\([^)]*\)/g, '').split(',')) {
      const parts = item.trim().split(':');
      if (parts[0] === 'gpu' && parts.length >= 3 && parts[1]) types.add(parts[1]);
    }
  }
  return types.size > 0 ? [...types].sort() : 'untyped';
}

/**
 * How to name `gpuType` on a partition that declares `declared`: any GPU (`untyped`) on untyped GPUs;
 * else the declared type equal to it, or containing it, ignoring case (`H100` → `nvidia_h100_80gb_hbm3`).
 * Throws, naming the partition's types, when none matches: nothing would ever run.
 */
export function gresTypesFor(
  gpuType: string,
  declared: string[] | 'untyped',
  partition: string,
): SlurmGresTypes {
  if (declared === 'untyped') return 'untyped';
  const wanted = gpuType.toLowerCase();
  const match =
    declared.find((type) => type.toLowerCase() === wanted) ??
    declared.find((type) => type.toLowerCase().includes(wanted));
  if (!match) {
    throw new Error(
      `partition ${partition} declares GPU types ${declared.join(', ')}, none of them ${gpuType}; map it with the Slurm executor's gresTypes`,
    );
  }
  return { [gpuType]: match };
}
