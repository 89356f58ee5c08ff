import { execFile } from 'node:child_process';
import type { GpuInfo, GpuInventory } from './gpu-info.ts';
import { gpuQueryFields, parseGpuQueryCsv } from './parse-gpu-query-csv.ts';

/** Runs a program and resolves its stdout, or null when it is missing, fails or times out. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<string | null>;

/** GPUs declared in the configuration for machines without nvidia-smi (or for tests), per type. */
export interface DeclaredGpuGroup {
  /** Short type, e.g. `h100`. */
  type: string;
  /** How many GPUs of this type. */
  count: number;
  /** Memory of each in MiB, when known. */
  memoryMiB?: number;
}

/** Asks nvidia-smi for this machine's GPUs; null when nvidia-smi is missing or fails. */
export async function detectGpus(run: CommandRunner = runCommand): Promise<GpuInventory | null> {
  const output = await run('nvidia-smi', [
    `--query-gpu=${gpuQueryFields.join(',')}`,
    '--format=csv,noheader,nounits',
  ]);
  if (output === null) return null;
  return { source: 'detected', gpus: parseGpuQueryCsv(output, gpuQueryFields) };
}

/** Builds an inventory from the configuration, numbering devices in the order given. */
export function declaredGpus(config: readonly DeclaredGpuGroup[]): GpuInventory {
  const gpus: GpuInfo[] = [];
  for (const group of config) {
    const type = group.type.toLowerCase();
    for (let n = 0; n < group.count; n += 1) {
      const index = gpus.length;
      gpus.push({
        index,
        uuid: `declared-${index}`,
        name: type,
        type,
        memoryTotalMiB: group.memoryMiB ?? 0,
        declared: true,
      });
    }
  }
  return { source: 'declared', gpus };
}

/** Runs a command with a 15-second limit, resolving null on any failure. */
export const runCommand: CommandRunner = (command, args) =>
  new Promise((resolve) => {
    execFile(command, [...args], { timeout: 15_000, encoding: 'utf8' }, (error, stdout) => {
      resolve(error ? null : stdout);
    });
  });
