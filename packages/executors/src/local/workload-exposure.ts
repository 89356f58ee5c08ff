import { isIP, isIPv6 } from 'node:net';
import { isAbsolute, relative } from 'node:path';
import type { WorkloadEgress, WorkloadSpec } from '../executor.ts';

/** A unix socket path is at most 107 bytes on Linux. */
export const maxSocketPathBytes = 107;

/** The egress of a local workload: `exposure.egress`, else `sandbox.egress`, else `blocked`; throws when both are set and differ. */
export function localEgress(spec: WorkloadSpec): WorkloadEgress {
  const exposed = spec.exposure?.egress;
  const sandboxed = spec.sandbox?.egress;
  if (exposed && sandboxed && exposed !== sandboxed) {
    throw new Error(
      `workload ${spec.id}: exposure.egress ${exposed} and sandbox.egress ${sandboxed} disagree; set one`,
    );
  }
  return exposed ?? sandboxed ?? 'blocked';
}

/**
 * Where a local workload listens, checked before it starts: its socket path, or `host:port` (host
 * `127.0.0.1` unless the spec names one) when it shares the host's network. A sandboxed socket must lie in
 * a folder the workload may write; a port in its own empty network namespace cannot be reached and is
 * refused; a port in a prepared namespace (`sandbox.netnsPath`) is at the host its owner names, if any.
 */
export function localAddress(spec: WorkloadSpec, sandboxed: boolean): string | undefined {
  const exposure = spec.exposure;
  if (!exposure) return undefined;
  if (exposure.socket !== undefined && exposure.port !== undefined) {
    throw new Error(`workload ${spec.id} exposes both a socket and a port; expose one`);
  }
  if (exposure.socket !== undefined) {
    const socket = exposure.socket;
    if (!isAbsolute(socket)) throw new Error(`workload ${spec.id}: socket ${socket} is not an absolute path`);
    if (Buffer.byteLength(socket) > maxSocketPathBytes) {
      throw new Error(
        `workload ${spec.id}: socket path ${socket} is longer than Linux allows (${maxSocketPathBytes} bytes)`,
      );
    }
    const writable = [spec.workDir, spec.outputDir, spec.checkpointDir, ...(spec.sandbox?.writable ?? [])];
    if (sandboxed && !writable.some((dir) => within(dir, socket))) {
      throw new Error(
        `workload ${spec.id}: socket ${socket} is outside the folders its sandbox may write (its work dir)`,
      );
    }
    return socket;
  }
  if (exposure.port === undefined) return undefined;
  const port = exposure.port;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`workload ${spec.id}: port ${port} is not a TCP port (1-65535)`);
  }
  const host = exposure.host ?? '127.0.0.1';
  if (!isIP(host)) throw new Error(`workload ${spec.id}: host ${host} is not an IP address`);
  const address = `${isIPv6(host) ? `[${host}]` : host}:${port}`;
  if (!sandboxed || localEgress(spec) === 'open') return address;
  // A prepared namespace (a notebook's): reachable at the address its owner gave it, if any.
  if (spec.sandbox?.netnsPath) return exposure.host ? address : undefined;
  throw new Error(
    `workload ${spec.id}: port ${port} would listen in the sandbox's own empty network namespace, which nothing reaches; expose a socket in its work dir instead`,
  );
}

function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}
