import { readdirSync, readFileSync } from 'node:fs';

/** One process as Linux reports it in /proc/<pid>/stat. */
export interface ProcInfo {
  /** Process id. */
  pid: number;
  /** Parent process id. */
  ppid: number;
  /** Process group id. */
  pgid: number;
  /** The command name (`comm`, at most 15 characters; a process can change its own). */
  name?: string;
  /** One-letter state; `Z` (zombie) and `X` (dead) no longer run. */
  state: string;
  /** Start time in clock ticks after boot, as text; with the pid it names one process across pid reuse. */
  starttime: string;
  /** CPU seconds of the process and of its children it has waited for. */
  cpuSeconds: number;
}

// USER_HZ, the unit of utime/stime in /proc, is 100 on every Linux architecture Node runs on.
const ticksPerSecond = 100;

/** Parses the text of /proc/<pid>/stat; the command name may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcInfo | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields after the name, numbered as in proc(5): state is field 3, so rest[i] is field i + 3.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number): string => rest[n - 3] ?? '';
  const ticks = [14, 15, 16, 17].reduce((sum, n) => sum + (Number(field(n)) || 0), 0);
  const info: ProcInfo = {
    pid,
    ppid: Number(field(4)),
    pgid: Number(field(5)),
    name: text.slice(open + 1, close),
    state: field(3),
    starttime: field(22),
    cpuSeconds: ticks / ticksPerSecond,
  };
  return Number.isInteger(info.pid) && info.starttime !== '' ? info : undefined;
}

/** Reads one process, or undefined when it does not exist or /proc is unavailable. */
export function readProc(pid: number): ProcInfo | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Reads every process, or undefined where there is no /proc (not Linux). */
export function readProcTable(): Map<number, ProcInfo> | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const table = new Map<number, ProcInfo>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProc(Number(name));
    if (info) table.set(info.pid, info);
  }
  return table;
}

/** Whether a process still runs (exists and is not a zombie). */
export function isRunning(info: ProcInfo | undefined): info is ProcInfo {
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** Whether a process's initial environment holds `name=value` exactly. */
export function hasEnvEntry(pid: number, entry: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
  } catch {
    return false;
  }
}
