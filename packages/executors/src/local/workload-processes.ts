import { hasEnvEntry, isRunning, type ProcInfo } from './proc-table.ts';

/** How to recognise the processes of one workload. */
export interface WorkloadProcessTarget {
  /** Pid of the wrapper shell, which is also the process group id. */
  pid: number;
  /** The wrapper's start time from /proc ('' where unknown). */
  starttime: string;
  /** `AICLOUD_WORKLOAD_ID=<id>`, inherited by every descendant that keeps its environment. */
  marker: string;
  /** Processes seen as members before (pid → start time), so orphans that left the group stay known. */
  known: Map<number, string>;
}

/** The running processes that belong to a workload. */
export interface WorkloadProcesses {
  /** Running members (zombies excluded): the process group, descendants by parent chains and marker holders. */
  members: ProcInfo[];
  /** Whether the wrapper itself still runs. */
  wrapperRunning: boolean;
  /** Whether the process group id still names this workload's group, so `kill(-pgid)` cannot hit a stranger. */
  groupVerified: boolean;
}

/** Finds a workload's processes in a process table; `scanEnvironment` also reads every /proc/<pid>/environ for the marker (finds `setsid` escapees whose parent died). */
export function findWorkloadProcesses(
  table: Map<number, ProcInfo>,
  target: WorkloadProcessTarget,
  options: { scanEnvironment: boolean },
): WorkloadProcesses {
  const wrapper = table.get(target.pid);
  const wrapperSame =
    wrapper !== undefined && (target.starttime === '' || wrapper.starttime === target.starttime);
  const seeds = new Set<number>();
  if (wrapperSame) seeds.add(target.pid);
  for (const info of table.values()) {
    if (info.pid === process.pid) continue;
    if (target.known.get(info.pid) === info.starttime) seeds.add(info.pid);
    else if (options.scanEnvironment && isRunning(info) && hasEnvEntry(info.pid, target.marker))
      seeds.add(info.pid);
  }
  // While any process of the group (a zombie too) exists, Linux cannot reuse the group's id for another process.
  const groupVerified = [...seeds].some((pid) => table.get(pid)?.pgid === target.pid);
  const found = new Set(seeds);
  if (groupVerified) {
    for (const info of table.values()) if (info.pgid === target.pid) found.add(info.pid);
  }
  const children = new Map<number, number[]>();
  for (const info of table.values()) children.set(info.ppid, [...(children.get(info.ppid) ?? []), info.pid]);
  const queue = [...found];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    for (const child of children.get(pid) ?? []) {
      if (!found.has(child)) {
        found.add(child);
        queue.push(child);
      }
    }
  }
  const members = [...found]
    .map((pid) => table.get(pid))
    .filter((info): info is ProcInfo => isRunning(info) && info.pid !== process.pid);
  return { members, wrapperRunning: wrapperSame && isRunning(wrapper), groupVerified };
}

/** Sends a signal to a workload: once to its process group when verified, and to each member outside it. */
export function signalWorkloadProcesses(
  found: WorkloadProcesses,
  pgid: number,
  signal: NodeJS.Signals,
): void {
  const groupSignalled = found.groupVerified && trySignal(-pgid, signal);
  for (const member of found.members) {
    // A sandbox's bubblewrap (in a session of its own) dies of SIGTERM and would take the workload with it
    // before its grace period: it gets only the final SIGKILL, which ends its whole pid namespace.
    if (signal !== 'SIGKILL' && member.name === 'bwrap') continue;
    if (!groupSignalled || member.pgid !== pgid) trySignal(member.pid, signal);
  }
}

function trySignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
