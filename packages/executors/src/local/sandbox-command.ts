import { createHash } from 'node:crypto';
import { chownSync, existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { WorkloadSpec } from '../executor.ts';
import type { SandboxTools } from './sandbox-support.ts';

/** Where a sandboxed workload finds the platform's API socket (when its egress allows the platform). */
export const sandboxApiSocket = '/run/aicloud/api.sock';

/** First uid/gid of the range the sandbox gives workloads: far above Debian's users (1000–59999) and nobody. */
export const workloadUidBase = 200_000;
/** Size of the range. */
export const workloadUidRange = 100_000;

/** Processes (and threads) a sandboxed workload may hold at once: a fork bomb stays its own. */
export const defaultPidsLimit = 4096;

/** What every sandbox on this executor shares. */
export interface SandboxConfig {
  /**
   * The platform's API for `egress: platform`: its unix socket on the host, bound in as `sandboxApiSocket`,
   * and the port it answers on, where a forwarder inside the sandbox listens on 127.0.0.1 so that
   * AICLOUD_URL and any HTTP client work unchanged.
   */
  platformApi?: () => { socket: string; port: number } | undefined;
  /** Host paths every workload sees read-only at the same path (the examples it runs, tool installs). */
  readOnly?: string[];
}

/**
 * The workload's own uid (and gid of the same number): one per workload, derived from its id so a restarted
 * job gets the same one back for its checkpoints. See docs/decisions/2026-12-04-workload-sandbox.md.
 */
export function workloadUid(id: string): number {
  const digest = createHash('sha256').update(id).digest();
  return workloadUidBase + (digest.readUInt32BE(0) % workloadUidRange);
}

const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;

/** Gives the workload's uid the directories it writes, without following links a previous run left there. */
export function chownForWorkload(paths: string[], uid: number): void {
  for (const path of paths) {
    try {
      if (lstatSync(path).isDirectory()) chownSync(path, uid, uid);
    } catch {
      // Missing: bubblewrap's -try binds skip it.
    }
  }
}

let hostPasswd: { passwd: string; group: string } | undefined;

/** /etc/passwd and /etc/group of the host plus the workload's own user, so `id`, Python's getpass and Jupyter work. */
function writeIdentityFiles(dir: string, uid: number, home: string): { passwd: string; group: string } {
  hostPasswd ??= {
    passwd: safeRead('/etc/passwd'),
    group: safeRead('/etc/group'),
  };
  const passwd = join(dir, 'passwd');
  const group = join(dir, 'group');
  writeFileSync(passwd, `${hostPasswd.passwd}aicloud:x:${uid}:${uid}:aicloud workload:${home}:/bin/sh\n`, {
    mode: 0o644,
  });
  writeFileSync(group, `${hostPasswd.group}aicloud:x:${uid}:\n`, { mode: 0o644 });
  return { passwd, group };
}

function safeRead(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.endsWith('\n') ? text : `${text}\n`;
  } catch {
    return '';
  }
}

/**
 * The shell command that runs `spec.command` inside its sandbox:
 * - bubblewrap: new mount, pid, ipc and uts namespaces, and a network namespace (an empty one for `blocked`
 *   and `platform`, the prepared one of `netnsPath`, the host's only for `open`); a tmpfs root holding /usr,
 *   /etc and the symlinks of a merged-/usr Debian read-only, a private /proc, /dev, /tmp and /dev/shm; the
 *   workload's work, output and checkpoint directories read-write; its datasets and the shared tool paths
 *   read-only; the executor's own files in `<workDir>/.aicloud` hidden under an empty tmpfs. The data dir,
 *   the store, credentials, the secret key and other workloads' folders do not exist in there.
 * - prlimit: a process-count limit (RLIMIT_NPROC of the workload's own uid).
 * - setpriv: the workload's own uid/gid, no supplementary groups, no capabilities, no_new_privs.
 * Paths keep their host names inside, so AICLOUD_OUTPUT_DIR and dataset paths mean the same on both sides.
 */
export function sandboxCommand(
  spec: WorkloadSpec,
  tools: SandboxTools,
  config: SandboxConfig,
  filesDir: string,
): string {
  const sandbox = spec.sandbox ?? { egress: 'blocked' as const };
  const uid = workloadUid(spec.id);
  const home = sandbox.home ?? spec.workDir;
  const identity = writeIdentityFiles(filesDir, uid, home);
  const writable = [spec.workDir, spec.outputDir, spec.checkpointDir, ...(sandbox.writable ?? [])];
  chownForWorkload(writable, uid);

  const args: string[] = [
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'aicloud',
  ];
  if (sandbox.egress !== 'open' && !sandbox.netnsPath) args.push('--unshare-net');
  args.push(
    '--ro-bind',
    '/usr',
    '/usr',
    '--ro-bind',
    '/etc',
    '/etc',
    '--ro-bind',
    identity.passwd,
    '/etc/passwd',
    '--ro-bind',
    identity.group,
    '/etc/group',
  );
  for (const link of ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32']) {
    const target = `/${link}`;
    try {
      const stat = lstatSync(target);
      if (stat.isSymbolicLink()) args.push('--symlink', `usr/${link}`, target);
      else if (stat.isDirectory()) args.push('--ro-bind', target, target);
    } catch {
      // Not on this machine.
    }
  }
  args.push(
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--perms',
    '1777',
    '--tmpfs',
    '/tmp',
    '--perms',
    '1777',
    '--tmpfs',
    '/dev/shm',
    '--perms',
    '0755',
    '--dir',
    '/run',
  );
  // Only the GPUs assigned to this workload (and the driver's control nodes) exist in its /dev.
  if (spec.gpus.length > 0) {
    for (const gpu of spec.gpus) args.push('--dev-bind-try', `/dev/nvidia${gpu}`, `/dev/nvidia${gpu}`);
    for (const node of ['nvidiactl', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia-modeset']) {
      args.push('--dev-bind-try', `/dev/${node}`, `/dev/${node}`);
    }
  }
  const readOnly = [...(config.readOnly ?? []), ...(sandbox.readOnly ?? [])];
  // bubblewrap would create the folders above each mount with the host's modes (often 0700): make them
  // traversable, outside every mounted host folder so nothing is created on the host.
  const targets = [...readOnly, ...writable];
  const system = ['/usr', '/etc', '/proc', '/dev', '/run'];
  const parents = new Set<string>();
  for (const target of targets) {
    for (let dir = dirname(target); dir !== '/' && dir !== '.'; dir = dirname(dir)) {
      if ([...targets, ...system].some((mounted) => dir === mounted || dir.startsWith(`${mounted}/`)))
        continue;
      parents.add(dir);
    }
  }
  for (const dir of [...parents].sort((a, b) => a.length - b.length)) {
    if (dir !== '/tmp') args.push('--perms', '0755', '--dir', dir);
  }
  const mounts = [
    ...readOnly.map((path) => ({ path, flag: '--ro-bind-try' })),
    ...writable.map((path) => ({ path, flag: '--bind-try' })),
  ].sort((a, b) => a.path.length - b.path.length);
  for (const { path, flag } of mounts) args.push(flag, path, path);
  // The spool, exit and termination files the executor keeps in the work dir are not the workload's.
  if (existsSync(filesDir)) args.push('--tmpfs', filesDir);
  const api = sandbox.egress === 'platform' ? config.platformApi?.() : undefined;
  const forward = api && existsSync(api.socket) ? api : undefined;
  if (forward) args.push('--dir', '/run/aicloud', '--bind', forward.socket, sandboxApiSocket);
  args.push('--chdir', spec.workDir);

  const argv: string[] = [tools.setsid];
  if (sandbox.netnsPath) {
    if (!tools.nsenter) throw new Error(`workload ${spec.id} needs nsenter to join ${sandbox.netnsPath}`);
    argv.push(tools.nsenter, `--net=${sandbox.netnsPath}`, '--');
  }
  argv.push(tools.bwrap, ...args, '--');
  if (tools.prlimit) argv.push(tools.prlimit, `--nproc=${sandbox.pids ?? defaultPidsLimit}`, '--');
  argv.push(
    tools.setpriv,
    `--reuid=${uid}`,
    `--regid=${uid}`,
    '--clear-groups',
    '--no-new-privs',
    '--bounding-set=-all',
    '--inh-caps=-all',
    '/bin/sh',
    '-c',
    ...(forward && tools.socat
      ? [forwarderScript(forward.port, tools.socat), 'aicloud-sandbox', spec.command]
      : [spec.command]),
  );
  return `exec ${argv.map(quote).join(' ')}`;
}

/**
 * Starts socat on 127.0.0.1:PORT inside the sandbox, forwarding to the API socket, waits (a few ms) until
 * it listens, then runs the command as the sandbox's main process: when the command ends, the pid
 * namespace ends and the forwarder with it.
 */
function forwarderScript(port: number, socat: string): string {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return [
    `${socat} TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:${sandboxApiSocket} 2>/dev/null &`,
    'i=0',
    `while [ $i -lt 500 ] && ! grep -q ':${hexPort} 00000000:0000 0A' /proc/net/tcp; do i=$((i+1)); done`,
    'exec /bin/sh -c "$1"',
  ].join('\n');
}
