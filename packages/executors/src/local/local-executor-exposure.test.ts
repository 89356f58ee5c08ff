import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Executor, WorkloadSpec } from '../executor.ts';
import { createLocalExecutor } from './local-executor.ts';
import { killSurvivors, pidOf, tempRoot, testSpec } from './testing/workload-test-kit.ts';
import { localAddress, localEgress } from './workload-exposure.ts';

const cleanups: (() => Promise<void> | void)[] = [];

function executor(isolation: 'sandbox' | 'none'): Executor {
  const created = createLocalExecutor({ killCheckIntervalMs: 100, logPollIntervalMs: 50, isolation });
  cleanups.push(() => created.shutdown());
  return created;
}

async function start(exec: Executor, spec: WorkloadSpec) {
  const handle = await exec.start(spec);
  cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
  cleanups.push(() => exec.cancel(spec.id, 'test'));
  return handle;
}

/** What the workload listening at `address` (a socket path or host:port) answers, retried until it listens. */
async function ask(address: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answer = await new Promise<string>((resolve) => {
      const [host, port] = address.split(':');
      const socket = address.startsWith('/') ? connect(address) : connect(Number(port), host);
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString();
      });
      socket.on('end', () => resolve(data));
      socket.on('error', () => resolve(''));
    });
    if (answer || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('local executor exposure', () => {
  it('returns the socket a sandboxed workload listens on as its address, reachable from the host', async () => {
    const root = tempRoot();
    const spec = testSpec(root, { id: 'rep_socket', command: '' });
    const socket = join(spec.workDir, 'replica.sock');
    const exec = executor('sandbox');
    const handle = await start(exec, {
      ...spec,
      command: `exec socat UNIX-LISTEN:${socket},fork SYSTEM:'echo pong'`,
      exposure: { socket, egress: 'blocked' },
    });
    expect(handle.address).toBe(socket);
    expect(await ask(socket)).toBe('pong\n');
  });

  it('returns 127.0.0.1:port for a workload on the host network', async () => {
    const root = tempRoot();
    const port = 20_000 + (process.pid % 20_000);
    const exec = executor('none');
    const handle = await start(
      exec,
      testSpec(root, {
        id: 'nb_port',
        command: `exec socat TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo pong'`,
        exposure: { port, egress: 'open' },
      }),
    );
    expect(handle.address).toBe(`127.0.0.1:${port}`);
    expect(await ask(`127.0.0.1:${port}`)).toBe('pong\n');
  });

  it('refuses what could not be reached or contradicts itself, before anything starts', async () => {
    const root = tempRoot();
    const exec = executor('sandbox');
    const base = testSpec(root, { id: 'bad', command: 'sleep 30' });
    await expect(exec.start({ ...base, exposure: { port: 8000, egress: 'blocked' } })).rejects.toThrow(
      /own empty network namespace, which nothing reaches; expose a socket/,
    );
    await expect(
      exec.start({ ...base, exposure: { socket: join(root, 'elsewhere.sock'), egress: 'blocked' } }),
    ).rejects.toThrow(/outside the folders its sandbox may write/);
    await expect(
      exec.start({ ...base, sandbox: { egress: 'open' }, exposure: { egress: 'blocked' } }),
    ).rejects.toThrow(/exposure.egress blocked and sandbox.egress open disagree/);
    expect(exec.status('bad')).toBeUndefined();
  });

  it('checks ports, socket paths and which egress applies', () => {
    const spec = testSpec('/data', { id: 'w', command: 'true' });
    expect(localEgress(spec)).toBe('blocked');
    expect(localEgress({ ...spec, exposure: { egress: 'platform' } })).toBe('platform');
    expect(localEgress({ ...spec, sandbox: { egress: 'open' } })).toBe('open');
    expect(localAddress(spec, true)).toBeUndefined();
    expect(() => localAddress({ ...spec, exposure: { port: 0, egress: 'open' } }, false)).toThrow(/TCP port/);
    expect(() => localAddress({ ...spec, exposure: { port: 1.5, egress: 'open' } }, false)).toThrow(
      /TCP port/,
    );
    expect(() => localAddress({ ...spec, exposure: { socket: 'rel.sock', egress: 'open' } }, false)).toThrow(
      /absolute/,
    );
    const long = join(spec.workDir, 'x'.repeat(120));
    expect(() => localAddress({ ...spec, exposure: { socket: long, egress: 'open' } }, false)).toThrow(
      /longer than Linux allows/,
    );
    expect(() =>
      localAddress(
        { ...spec, exposure: { socket: join(spec.workDir, 's'), port: 1, egress: 'open' } },
        false,
      ),
    ).toThrow(/both a socket and a port/);
    // A prepared network namespace (a notebook's): at the address its owner gives, else unknown.
    const inNamespace = { ...spec, sandbox: { netnsPath: '/run/netns/nb' } };
    expect(
      localAddress({ ...inNamespace, exposure: { port: 8888, egress: 'blocked' } }, true),
    ).toBeUndefined();
    expect(
      localAddress({ ...inNamespace, exposure: { host: '10.200.0.2', port: 8888, egress: 'blocked' } }, true),
    ).toBe('10.200.0.2:8888');
    expect(localAddress({ ...spec, exposure: { host: '::1', port: 8888, egress: 'open' } }, false)).toBe(
      '[::1]:8888',
    );
    expect(() =>
      localAddress({ ...spec, exposure: { host: 'a b', port: 8888, egress: 'open' } }, false),
    ).toThrow(/not an IP address/);
    expect(localAddress({ ...spec, exposure: { port: 8888, egress: 'open' } }, true)).toBe('127.0.0.1:8888');
  });
});
