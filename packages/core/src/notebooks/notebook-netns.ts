import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { AppError } from '../app-error.ts';

/**
 * Egress control for notebooks: each egress-blocked notebook runs in its own network namespace whose only
 * link is one veth pair to the host. Addresses come from 10.231.0.0/16, cut into /30s: the host end
 * (.1 of the /30) stays in the root namespace, the inside end (.2) is where Jupyter listens. Inside there
 * is no default route, so nothing but the host end is reachable, and the host's 127.0.0.1 services are not.
 * These veth addresses are the project's own test hosts: the only non-loopback traffic it ever sends.
 */
export const NOTEBOOK_NET_PREFIX = '10.231';

/** The names of one notebook's namespace and veth pair, derived from its id (interface names ≤ 15 characters). */
export interface NetnsNames {
  /** `aic-<10 hex>`. */
  namespace: string;
  /** Host end of the veth pair: `aich-<10 hex>`. */
  hostIf: string;
  /** Inside end: `aicn-<10 hex>`. */
  innerIf: string;
}

/** A namespace that exists, with its addresses. */
export interface NotebookNetns extends NetnsNames {
  hostAddress: string;
  innerAddress: string;
}

/** Namespace names of a notebook id (`nb_0123456789abcdef` → `aic-0123456789`). */
export function netnsNames(notebookId: string): NetnsNames {
  const short = notebookId
    .replace(/^nb_/, '')
    .replace(/[^a-z0-9]/gi, '')
    .slice(0, 10);
  return { namespace: `aic-${short}`, hostIf: `aich-${short}`, innerIf: `aicn-${short}` };
}

const ipCandidates = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];
const setprivCandidates = ['/usr/bin/setpriv', '/bin/setpriv'];

function findExecutable(candidates: string[]): string | null {
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next one
    }
  }
  return null;
}

/** Whether this machine can run egress-blocked notebooks, and if not, why (checked before anything is created). */
export function namespaceSupport(): { ok: true; ip: string } | { ok: false; reason: string } {
  if (process.platform !== 'linux') {
    return { ok: false, reason: `network namespaces need Linux; this server runs on ${process.platform}` };
  }
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      reason:
        'network namespaces need root (ip netns add); the server does not run as root, so egress cannot be blocked',
    };
  }
  const ip = findExecutable(ipCandidates);
  if (!ip) return { ok: false, reason: "the 'ip' command (iproute2) is not installed" };
  return { ok: true, ip };
}

/** `setpriv` when present: it drops the capabilities a kernel would need to leave or rewire its namespace. */
export function setprivPath(): string | null {
  return findExecutable(setprivCandidates);
}

/** The capabilities an egress-blocked Jupyter and its kernels lose (bounding set), so even root inside cannot add routes or enter another namespace. */
export const droppedCapabilities = ['net_admin', 'net_raw', 'sys_admin', 'sys_ptrace', 'sys_module'];

function run(file: string, args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 10_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${[file, ...args].join(' ')}: ${(stderr || error.message).trim()}`));
        return;
      }
      resolve({ stdout });
    });
  });
}

/** /30 subnet indexes (0…16383 in 10.231.0.0/16) that some interface of the host already uses. */
async function usedSubnets(ip: string): Promise<Set<number>> {
  const { stdout } = await run(ip, ['-o', '-4', 'addr', 'show']);
  const used = new Set<number>();
  for (const match of stdout.matchAll(/inet (\d+)\.(\d+)\.(\d+)\.(\d+)/g)) {
    if (`${match[1]}.${match[2]}` !== NOTEBOOK_NET_PREFIX) continue;
    used.add(Number(match[3]) * 64 + Math.floor(Number(match[4]) / 4));
  }
  return used;
}

function subnetAddresses(index: number): { hostAddress: string; innerAddress: string } {
  const third = Math.floor(index / 64);
  const base = (index % 64) * 4;
  return {
    hostAddress: `${NOTEBOOK_NET_PREFIX}.${third}.${base + 1}`,
    innerAddress: `${NOTEBOOK_NET_PREFIX}.${third}.${base + 2}`,
  };
}

/** Whether a notebook's namespace exists. */
export function namespaceExists(namespace: string): boolean {
  return existsSync(`/run/netns/${namespace}`) || existsSync(`/var/run/netns/${namespace}`);
}

const nftCandidates = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'];

/**
 * The host's firewall rule for every notebook veth (`aich-*`): nothing a notebook starts reaches the host
 * end, so host services bound to 0.0.0.0 (a database, slurmctld) stay out of reach; replies to the proxy's
 * own connections pass. One nftables table, replaced whole in one transaction (idempotent).
 */
export const hostFirewallRules = [
  'add table inet aicloud',
  'delete table inet aicloud',
  'table inet aicloud {',
  '  chain input {',
  '    type filter hook input priority 0; policy accept;',
  '    iifname "aich-*" ct state established,related accept',
  '    iifname "aich-*" drop',
  '  }',
  '}',
].join('\n');

let firewallReady: Promise<void> | undefined;

/** Installs the host firewall rule once per process; throws when nftables is missing or refuses. */
export function ensureHostFirewall(): Promise<void> {
  firewallReady ??= (async () => {
    const nft = findExecutable(nftCandidates);
    if (!nft) throw new Error('nftables is not installed (apt-get install nftables)');
    await new Promise<void>((resolve, reject) => {
      const child = execFile(nft, ['-f', '-'], { timeout: 10_000 }, (error, _stdout, stderr) =>
        error ? reject(new Error(`nft: ${(stderr || error.message).trim()}`)) : resolve(),
      );
      child.stdin?.end(hostFirewallRules);
    });
  })().catch((error: unknown) => {
    firewallReady = undefined;
    throw error;
  });
  return firewallReady;
}

/**
 * Creates the namespace and veth pair of a notebook: `lo` up inside, the veth's /30 routed, no default
 * route. Throws AppError `unavailable` (with what failed) and leaves nothing behind when any step fails.
 */
export async function createNamespace(notebookId: string): Promise<NotebookNetns> {
  const support = namespaceSupport();
  if (!support.ok) throw new AppError('unavailable', `cannot block egress: ${support.reason}`);
  const { ip } = support;
  const names = netnsNames(notebookId);
  try {
    await ensureHostFirewall();
  } catch (error) {
    throw new AppError(
      'unavailable',
      `cannot block egress: the host firewall rule for notebook links failed: ${(error as Error).message}`,
    );
  }
  const used = await usedSubnets(ip);
  // Random among the free /30s, so concurrent servers on one machine rarely race for the same one.
  let index = randomInt(0, 16384);
  for (let tries = 0; used.has(index) && tries < 16384; tries += 1) index = (index + 1) % 16384;
  if (used.has(index)) throw new AppError('unavailable', 'no free /30 left in 10.231.0.0/16 for a notebook');
  const { hostAddress, innerAddress } = subnetAddresses(index);
  const steps: string[][] = [
    ['netns', 'add', names.namespace],
    ['link', 'add', names.hostIf, 'type', 'veth', 'peer', 'name', names.innerIf],
    ['link', 'set', names.innerIf, 'netns', names.namespace],
    ['addr', 'add', `${hostAddress}/30`, 'dev', names.hostIf],
    ['link', 'set', names.hostIf, 'up'],
    ['-n', names.namespace, 'link', 'set', 'lo', 'up'],
    ['-n', names.namespace, 'addr', 'add', `${innerAddress}/30`, 'dev', names.innerIf],
    ['-n', names.namespace, 'link', 'set', names.innerIf, 'up'],
  ];
  try {
    for (const step of steps) await run(ip, step);
    const routes = await run(ip, ['-n', names.namespace, 'route', 'show']);
    if (/^default/m.test(routes.stdout)) throw new Error('a default route appeared inside the namespace');
  } catch (error) {
    await removeNamespace(names).catch(() => undefined);
    throw new AppError(
      'unavailable',
      `cannot block egress: setting up network namespace ${names.namespace} failed: ${(error as Error).message}`,
    );
  }
  return { ...names, hostAddress, innerAddress };
}

/** Removes a notebook's namespace and veth pair; a no-op for what is already gone. */
export async function removeNamespace(names: NetnsNames): Promise<void> {
  const ip = findExecutable(ipCandidates);
  if (!ip) return;
  if (namespaceExists(names.namespace)) {
    await run(ip, ['netns', 'del', names.namespace]).catch(() => undefined);
  }
  // Deleting the namespace destroys the inside end and with it the pair; remove the host end if it stayed.
  if (existsSync(`/sys/class/net/${names.hostIf}`)) {
    await run(ip, ['link', 'del', names.hostIf]).catch(() => undefined);
  }
}
