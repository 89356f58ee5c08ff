import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkloadSpec } from '../executor.ts';

/**
 * The shell that runs every local workload, as `/bin/sh -c WRAPPER aicloud-wrapper CMD OUT ERR EXIT [PROCS…]`.
 * It leads the workload's process group and runs the command in a child shell in the foreground, so the
 * command's own `exit`, traps and signals stay its own. The wrapper catches TERM/INT/HUP with a no-op
 * (a caught signal is reset to the default in children, an ignored one would be inherited), so a group
 * SIGTERM reaches the command while the wrapper waits on; once the command ends, the wrapper writes its
 * `$?` and the children's CPU times (`times`) to EXIT. That file is how an exit code outlives a server
 * restart: the executor is then no longer the wrapper's parent. Output goes to spool files, not pipes,
 * so a workload keeps writing (and does not die of SIGPIPE) while no server reads it. PROCS are the
 * workload's `cgroup.procs` files, which the wrapper joins before it starts anything.
 */
export const wrapperScript = [
  'trap : TERM INT HUP',
  'cmd=$1 out=$2 err=$3 exitfile=$4',
  'shift 4',
  // Joins the workload's cgroups before anything is forked, so every descendant is counted and limited.
  'for procs in "$@"; do echo $$ >"$procs" 2>/dev/null; done',
  '/bin/sh -c "$cmd" </dev/null >>"$out" 2>>"$err"',
  'code=$?',
  `{ printf '%s\\n' "$code"; times; } >"$exitfile"`,
  'exit "$code"',
].join('\n');

/** Where the local executor keeps a workload's own files: `<workDir>/.aicloud/<id>.*`. */
export interface WorkloadFiles {
  /** Directory of the files (mode 0700). */
  dir: string;
  /** Raw stdout as the command writes it; holds unmasked secrets, deleted once drained at the end. */
  stdout: string;
  /** Raw stderr, likewise. */
  stderr: string;
  /** Exit code and CPU times written by the wrapper. */
  exitCode: string;
  /** The termination the executor began (state, reason, time), so a restarted executor finishes it. */
  termination: string;
  /** How far each spool has been copied into the log file. */
  offsets: string;
}

/** The file paths of one workload, derived from its spec alone so they can be found after a restart. */
export function workloadFiles(spec: WorkloadSpec): WorkloadFiles {
  const dir = join(spec.workDir, '.aicloud');
  const base = join(dir, spec.id.replace(/[^A-Za-z0-9._-]/g, '_'));
  return {
    dir,
    stdout: `${base}.stdout`,
    stderr: `${base}.stderr`,
    exitCode: `${base}.exit`,
    termination: `${base}.termination.json`,
    offsets: `${base}.offsets.json`,
  };
}

/** What the wrapper wrote when the command ended. */
export interface ExitRecord {
  /** The shell's `$?`: the exit code, or 128 + the signal number when a signal ended the command. */
  code: number;
  /** User plus system CPU seconds of the command and every descendant it waited for. */
  childCpuSeconds: number | undefined;
}

/** Reads the wrapper's exit file, or undefined when it was not written (yet). */
export function readExitRecord(path: string): ExitRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const [first = '', , children = ''] = text.split('\n');
  if (!/^\d+$/.test(first.trim())) return undefined;
  // `times` prints the shell's times, then its children's: "0m1.250000s 0m0.040000s".
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  const childCpuSeconds = seconds.length === 2 ? seconds.reduce((a, b) => a + b, 0) : undefined;
  return { code: Number(first.trim()), childCpuSeconds };
}

/** A termination the executor began: a runtime limit or a cancel. */
export interface TerminationRecord {
  /** The final state it leads to. */
  state: 'timed_out' | 'cancelled';
  /** The status reason: `runtime_limit` or the cancel reason. */
  reason: string;
  /** When SIGTERM was sent, in milliseconds since the epoch; SIGKILL follows graceSeconds later. */
  requestedAt: number;
}

/** Reads a persisted termination, or undefined. */
export function readTerminationRecord(path: string): TerminationRecord | undefined {
  const value = readJson(path);
  if (typeof value !== 'object' || value === null) return undefined;
  const { state, reason, requestedAt } = value as Record<string, unknown>;
  if ((state !== 'timed_out' && state !== 'cancelled') || typeof reason !== 'string') return undefined;
  return typeof requestedAt === 'number' ? { state, reason, requestedAt } : undefined;
}

/** Persists a termination before its SIGTERM is sent. */
export function writeTerminationRecord(path: string, record: TerminationRecord): void {
  writeFileSync(path, JSON.stringify(record), { mode: 0o600 });
}

/** Reads a JSON file, or undefined when it is missing or not JSON. */
export function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}
