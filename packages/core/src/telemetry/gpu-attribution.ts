import type { GpuReading } from './gpu-query.ts';

/** A workload that may hold or use GPUs of this machine. */
export interface GpuHolder {
  kind: 'job' | 'notebook' | 'replica';
  id: string;
  team: string;
  /** Devices it was assigned (CUDA_VISIBLE_DEVICES). */
  gpuIndexes: number[];
  /** The pid the local executor started it as (its process tree is the workload); null when unknown. */
  rootPid: number | null;
}

/** One GPU's figures at one time, with the workload they are attributed to (null: a free GPU). */
export interface GpuSample {
  gpuIndex: number;
  gpuUuid: string;
  gpuName: string;
  workload: Pick<GpuHolder, 'kind' | 'id' | 'team'> | null;
  /** `assignment`: the workload holds the device; `pid`: its processes use a device it was not assigned. */
  attributedBy: 'assignment' | 'pid' | null;
  /** The GPU's utilisation; null for a workload that shares an unassigned GPU with others (not separable). */
  utilizationPercent: number | null;
  /** The GPU's memory in use (assignment), or what the workload's processes hold on it (pid). */
  memoryUsedMiB: number | null;
  memoryTotalMiB: number;
  powerW: number | null;
  /** The workload's processes nvidia-smi lists on this GPU. */
  pids: number[];
}

/** The parent pid of a process, or undefined when it is gone (or unknown). */
export type ParentOf = (pid: number) => number | undefined;

/** The holder whose process tree holds `pid`: walks the parent chain up to its root (bounded). */
function ownerOf(pid: number, byRoot: Map<number, GpuHolder>, parentOf: ParentOf): GpuHolder | undefined {
  let current: number | undefined = pid;
  for (let depth = 0; current !== undefined && current > 1 && depth < 64; depth += 1) {
    const holder = byRoot.get(current);
    if (holder) return holder;
    current = parentOf(current);
  }
  return undefined;
}

/**
 * Attributes each GPU of a reading to the workload holding it (by assignment), and the memory of processes
 * on GPUs their workload does not hold to that workload (by pid, walking the process tree). A free GPU
 * with no known process gives one sample with no workload.
 */
export function attributeGpus(
  reading: GpuReading,
  holders: readonly GpuHolder[],
  parentOf: ParentOf,
): GpuSample[] {
  const byRoot = new Map<number, GpuHolder>();
  for (const holder of holders) if (holder.rootPid !== null) byRoot.set(holder.rootPid, holder);
  const samples: GpuSample[] = [];
  for (const gpu of reading.gpus) {
    const base = {
      gpuIndex: gpu.index,
      gpuUuid: gpu.uuid,
      gpuName: gpu.name,
      memoryTotalMiB: gpu.memoryTotalMiB,
      powerW: gpu.powerW ?? null,
    };
    const assigned = holders.find((holder) => holder.gpuIndexes.includes(gpu.index));
    const users = new Map<GpuHolder, { pids: number[]; memoryMiB: number }>();
    for (const app of reading.apps) {
      if (app.gpuUuid !== gpu.uuid) continue;
      const owner = ownerOf(app.pid, byRoot, parentOf);
      if (!owner) continue;
      const use = users.get(owner) ?? { pids: [], memoryMiB: 0 };
      use.pids.push(app.pid);
      use.memoryMiB += app.usedMemoryMiB ?? 0;
      users.set(owner, use);
    }
    if (assigned) {
      samples.push({
        ...base,
        workload: { kind: assigned.kind, id: assigned.id, team: assigned.team },
        attributedBy: 'assignment',
        utilizationPercent: gpu.utilizationPercent ?? null,
        memoryUsedMiB: gpu.memoryUsedMiB ?? null,
        pids: users.get(assigned)?.pids ?? [],
      });
    }
    const others = [...users].filter(([holder]) => holder !== assigned);
    for (const [holder, use] of others) {
      samples.push({
        ...base,
        workload: { kind: holder.kind, id: holder.id, team: holder.team },
        attributedBy: 'pid',
        // The whole GPU's utilisation is this workload's only when nobody else is on it.
        utilizationPercent: !assigned && others.length === 1 ? (gpu.utilizationPercent ?? null) : null,
        memoryUsedMiB: use.memoryMiB,
        pids: use.pids,
      });
    }
    if (!assigned && others.length === 0) {
      samples.push({
        ...base,
        workload: null,
        attributedBy: null,
        utilizationPercent: gpu.utilizationPercent ?? null,
        memoryUsedMiB: gpu.memoryUsedMiB ?? null,
        pids: [],
      });
    }
  }
  return samples;
}
