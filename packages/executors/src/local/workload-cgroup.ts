import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Resource limits of one workload, applied where the kernel offers them. */
export interface WorkloadLimits {
  /** Memory in MiB; the OOM killer acts inside the workload, not on the control plane. */
  memoryMiB?: number;
  /** CPU cores (a CFS quota); absent: no cap, only a lower weight than the control plane. */
  cpus?: number;
  /** Most processes and threads at once: a fork bomb stays inside its own workload. */
  pids: number;
}

/** The cgroups made for one workload: the wrapper writes its pid into each `procs` file before it starts the command. */
export interface WorkloadCgroup {
  /** `cgroup.procs` files to join. */
  procs: string[];
  /** What was applied, for the workload's log: `memory 2048 MiB, pids 1024, cpu weight`. */
  applied: string[];
  /** Directories to remove once no process of the workload remains. */
  dirs: string[];
}

const v1Root = '/sys/fs/cgroup';
const group = 'aicloud';

/** Whether a cgroup v1 controller is mounted here and readable (writing is tried, and may still fail). */
function mounted(path: string): boolean {
  try {
    readFileSync(join(path, 'cgroup.procs'), 'utf8');
    return true;
  } catch {
    return false;
  }
}

function tryWrite(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

/** cgroup v2 when the unified hierarchy is mounted at /sys/fs/cgroup, else v1 controllers (memory, cpu, pids). */
export function createWorkloadCgroup(id: string, limits: WorkloadLimits): WorkloadCgroup {
  const name = id.replace(/[^A-Za-z0-9._-]/g, '_');
  const result: WorkloadCgroup = { procs: [], applied: [], dirs: [] };
  if (process.getuid?.() !== 0) return result;
  if (existsSync(join(v1Root, 'cgroup.controllers'))) {
    const parent = join(v1Root, group);
    try {
      mkdirSync(parent, { recursive: true });
      tryWrite(join(v1Root, 'cgroup.subtree_control'), '+memory +pids +cpu');
      tryWrite(join(parent, 'cgroup.subtree_control'), '+memory +pids +cpu');
      const dir = join(parent, name);
      mkdirSync(dir, { recursive: true });
      result.dirs.push(dir);
      result.procs.push(join(dir, 'cgroup.procs'));
      if (limits.memoryMiB && tryWrite(join(dir, 'memory.max'), String(limits.memoryMiB * 1024 * 1024)))
        result.applied.push(`memory ${limits.memoryMiB} MiB`);
      if (tryWrite(join(dir, 'pids.max'), String(limits.pids))) result.applied.push(`pids ${limits.pids}`);
      if (limits.cpus && tryWrite(join(dir, 'cpu.max'), `${Math.round(limits.cpus * 100_000)} 100000`))
        result.applied.push(`cpu ${limits.cpus}`);
      if (tryWrite(join(dir, 'cpu.weight'), '25')) result.applied.push('cpu weight below the control plane');
    } catch {
      // No writable cgroup v2 here: prlimit's process limit still applies.
    }
    return result;
  }
  const controllers: Array<[string, (dir: string) => void]> = [
    [
      'memory',
      (dir) => {
        if (
          limits.memoryMiB &&
          tryWrite(join(dir, 'memory.limit_in_bytes'), String(limits.memoryMiB * 1024 * 1024))
        )
          result.applied.push(`memory ${limits.memoryMiB} MiB`);
      },
    ],
    [
      'pids',
      (dir) => {
        if (tryWrite(join(dir, 'pids.max'), String(limits.pids))) result.applied.push(`pids ${limits.pids}`);
      },
    ],
    [
      'cpu',
      (dir) => {
        if (limits.cpus && tryWrite(join(dir, 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * 100_000))))
          result.applied.push(`cpu ${limits.cpus}`);
        // A quarter of the default weight: under contention the control plane keeps answering.
        if (tryWrite(join(dir, 'cpu.shares'), '256'))
          result.applied.push('cpu weight below the control plane');
      },
    ],
  ];
  for (const [controller, apply] of controllers) {
    const root = join(v1Root, controller);
    if (!mounted(root)) continue;
    const dir = join(root, group, name);
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      continue;
    }
    result.dirs.push(dir);
    result.procs.push(join(dir, 'cgroup.procs'));
    apply(dir);
  }
  return result;
}

/** Removes a workload's cgroups; a cgroup that still holds a process stays (the kernel refuses). */
export function removeWorkloadCgroup(id: string): void {
  const name = id.replace(/[^A-Za-z0-9._-]/g, '_');
  const dirs = existsSync(join(v1Root, 'cgroup.controllers'))
    ? [join(v1Root, group, name)]
    : ['memory', 'pids', 'cpu'].map((controller) => join(v1Root, controller, group, name));
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      // Gone already, or a process is still inside.
    }
  }
}
