import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** The programs the sandbox launcher runs, found on this machine. */
export interface SandboxTools {
  /** Debian's bubblewrap: the mount, pid, ipc, uts and network namespaces. */
  bwrap: string;
  /** util-linux setpriv: drops to the workload's uid/gid with no capabilities and no_new_privs. */
  setpriv: string;
  /** util-linux prlimit: the process-count limit (absent: that limit is skipped). */
  prlimit: string | null;
  /** util-linux nsenter: joins a prepared network namespace (notebooks). */
  nsenter: string | null;
  /** util-linux setsid: bubblewrap leads a session of its own, out of reach of the workload group's SIGTERM. */
  setsid: string;
  /** socat: forwards 127.0.0.1:PORT inside a sandbox to the platform's API socket (absent: only the socket). */
  socat: string | null;
}

/** Whether this machine can sandbox workloads, and if not, exactly what is missing. */
export type SandboxSupport = { ok: true; tools: SandboxTools } | { ok: false; reason: string };

function find(names: string[]): string | null {
  for (const name of names) {
    for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
      try {
        accessSync(`${dir}/${name}`, constants.X_OK);
        return `${dir}/${name}`;
      } catch {
        // try the next one
      }
    }
  }
  return null;
}

let cached: SandboxSupport | undefined;

/**
 * Checks once per process: Linux, root (to give each workload its own uid), bubblewrap and setpriv
 * present, and a real namespace sandbox starting (a kernel or container may forbid namespaces).
 */
export function sandboxSupport(): SandboxSupport {
  if (cached) return cached;
  cached = probe();
  return cached;
}

function probe(): SandboxSupport {
  if (process.platform !== 'linux') {
    return { ok: false, reason: `workload sandboxes need Linux; this server runs on ${process.platform}` };
  }
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      reason:
        'the server does not run as root, so it cannot give workloads their own uid, mount, pid and network namespaces',
    };
  }
  const bwrap = find(['bwrap']);
  if (!bwrap) {
    return { ok: false, reason: 'bubblewrap is not installed (apt-get install bubblewrap)' };
  }
  const setpriv = find(['setpriv']);
  const setsid = find(['setsid']);
  if (!setpriv || !setsid) return { ok: false, reason: "util-linux's setpriv or setsid is missing" };
  try {
    execFileSync(
      bwrap,
      [
        '--unshare-pid',
        '--unshare-net',
        '--die-with-parent',
        '--ro-bind',
        '/usr',
        '/usr',
        '--symlink',
        'usr/bin',
        '/bin',
        '--symlink',
        'usr/lib',
        '/lib',
        '--symlink',
        'usr/lib64',
        '/lib64',
        '--proc',
        '/proc',
        '--',
        setpriv,
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--no-new-privs',
        '/bin/true',
      ],
      { stdio: 'ignore', timeout: 10_000 },
    );
  } catch (error) {
    return { ok: false, reason: `bubblewrap cannot create namespaces here: ${(error as Error).message}` };
  }
  return {
    ok: true,
    tools: {
      bwrap,
      setpriv,
      setsid,
      prlimit: find(['prlimit']),
      nsenter: find(['nsenter']),
      socat: find(['socat']),
    },
  };
}
