import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Executor, WorkloadSpec } from '../executor.ts';
import { createLocalExecutor } from './local-executor.ts';
import { sandboxApiSocket, workloadUid } from './sandbox-command.ts';
import { sandboxSupport } from './sandbox-support.ts';
import {
  killSurvivors,
  pidOf,
  recordEvents,
  survivors,
  tempRoot,
  testSpec,
} from './testing/workload-test-kit.ts';

const cleanups: (() => Promise<void> | void)[] = [];

function executor(platformApi?: { socket: string; port: number }): Executor {
  const created = createLocalExecutor({
    killCheckIntervalMs: 100,
    logPollIntervalMs: 50,
    isolation: 'sandbox',
    sandbox: { platformApi: () => platformApi },
  });
  cleanups.push(() => created.shutdown());
  return created;
}

async function run(exec: Executor, spec: WorkloadSpec) {
  const events = recordEvents(exec);
  const handle = await exec.start(spec);
  cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
  const status = await events.ended(spec.id);
  return { status, lines: events.lines(spec.id) };
}

async function listen(server: Server, ...args: unknown[]): Promise<void> {
  await new Promise<void>((resolve) => server.listen(...(args as []), () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
}

beforeAll(() => {
  const support = sandboxSupport();
  if (!support.ok) {
    throw new Error(
      `the workload sandbox cannot run here (${support.reason}); as root: apt-get install bubblewrap`,
    );
  }
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('local executor sandbox', () => {
  it('runs as the workload’s own uid and sees only its folders, its datasets read-only and its own processes', async () => {
    const root = tempRoot();
    const platformData = join(root, 'platform');
    mkdirSync(platformData, { recursive: true });
    writeFileSync(join(platformData, 'secret.key'), 'k'.repeat(32), { mode: 0o644 });
    const dataset = join(root, 'lake', 'team', 'v1');
    mkdirSync(dataset, { recursive: true });
    writeFileSync(join(dataset, 'train.jsonl'), '{"x":1}\n', { mode: 0o644 });
    const other = testSpec(root, { id: 'job_other', command: 'sleep 30' });
    const exec = executor();
    await exec.start(other);
    cleanups.push(() => exec.cancel(other.id, 'test'));
    const spec = testSpec(root, {
      id: 'job_boxed',
      sandbox: { egress: 'blocked', readOnly: [dataset] },
      command: [
        'echo "uid=$(id -u)"',
        `cat '${join(platformData, 'secret.key')}' && echo LEAK-secret`,
        `ls '${other.workDir}' && echo LEAK-other-workdir`,
        `cat '${other.logFile}' && echo LEAK-other-log`,
        `cat '${join(dataset, 'train.jsonl')}'`,
        `touch '${join(dataset, 'mine')}' && echo LEAK-dataset-writable`,
        'echo "procs=$(ls /proc | grep -c "^[0-9]")"',
        `grep -l job_other /proc/[0-9]*/environ 2>/dev/null && echo LEAK-environ`,
        'echo out > "$AICLOUD_OUTPUT_DIR/result.txt"',
        'ls -A "$PWD/.aicloud" | grep . && echo LEAK-spool',
        'exit 0',
      ].join('\n'),
    });
    const { status, lines } = await run(exec, spec);

    expect(status.state).toBe('succeeded');
    expect(lines).toContain(`uid=${workloadUid('job_boxed')}`);
    expect(lines).toContain('{"x":1}');
    expect(lines.filter((line) => line.startsWith('LEAK-'))).toEqual([]);
    // The shell, `ls` and `grep` of this pipeline and the sandbox's init: nothing of the host.
    expect(Number(lines.find((line) => line.startsWith('procs='))?.slice(6))).toBeLessThanOrEqual(6);
    expect(readFileSync(join(spec.outputDir, 'result.txt'), 'utf8')).toBe('out\n');
  });

  it('limits what a workload may take: processes always, memory and CPU weight where cgroups are writable', async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: 'job_limited',
      memoryMiB: 256,
      command: `grep 'Max processes' /proc/self/limits; echo ready; sleep 5`,
    });
    const handle = await exec.start(spec);
    cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
    await events.logged(spec.id, 'ready');
    expect(events.lines(spec.id).find((line) => line.startsWith('Max processes'))).toMatch(
      /^Max processes\s+4096\s+4096\s+processes\s*$/,
    );
    const memory = '/sys/fs/cgroup/memory/aicloud/job_limited';
    if (existsSync('/sys/fs/cgroup/memory/cgroup.procs')) {
      // cgroup v1 (this machine): the workload's processes are in its own memory cgroup, capped.
      expect(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(
        String(256 * 1024 * 1024),
      );
      const members = readFileSync(join(memory, 'cgroup.procs'), 'utf8').trim().split('\n');
      expect(members).toContain(String(pidOf(handle.externalId)));
      expect(members.length).toBeGreaterThanOrEqual(3);
    }
    await exec.cancel(spec.id, 'test');
    await events.ended(spec.id);
    expect(existsSync(memory)).toBe(false);
  });

  it('times out a sandboxed job that ignores SIGTERM: SIGKILL at limit + grace, nothing of it survives', async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: 'job_stubborn_boxed',
      maxRuntimeSeconds: 1,
      graceSeconds: 1,
      command: [
        "trap '' TERM",
        'sleep 1000 &',
        `sh -c 'setsid sh -c "trap \\"\\" TERM; exec sleep 1001" &'`,
        'echo ready',
        'wait',
      ].join('\n'),
    });
    const handle = await exec.start(spec);
    const pgid = pidOf(handle.externalId);
    cleanups.push(() => killSurvivors(pgid, spec.id));
    await events.logged(spec.id, 'ready');
    // Host pids of the sandbox's processes (found by the id every process of the workload carries).
    const before = survivors(pgid, spec.id);
    expect(before.length).toBeGreaterThanOrEqual(5);

    const status = await events.ended(spec.id);

    expect(status).toMatchObject({ state: 'timed_out', reason: 'runtime_limit' });
    expect(status.endedAt! - status.startedAt).toBeGreaterThanOrEqual(2000);
    expect(status.endedAt! - status.startedAt).toBeLessThan(4500);
    expect(survivors(pgid, spec.id)).toEqual([]);
  });

  it('cancels a sandboxed job with SIGTERM first, so it can finish cleanly within the grace period', async () => {
    const exec = executor();
    const events = recordEvents(exec);
    const spec = testSpec(tempRoot(), {
      id: 'job_cancel_boxed',
      graceSeconds: 5,
      command: `trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.1; done`,
    });
    const handle = await exec.start(spec);
    cleanups.push(() => killSurvivors(pidOf(handle.externalId), spec.id));
    await events.logged(spec.id, 'ready');
    const cancelledAt = Date.now();
    await exec.cancel(spec.id, 'user');
    const status = await events.ended(spec.id);

    expect(status).toMatchObject({ state: 'cancelled', reason: 'user' });
    expect(events.lines(spec.id)).toContain('got-term');
    expect(status.endedAt! - cancelledAt).toBeLessThan(3000);
  });

  it('blocks the network for `blocked` and gives `platform` only the platform’s API socket', async () => {
    const root = tempRoot();
    const host = createNetServer((socket) => socket.end('host-service\n'));
    await listen(host, 0, '127.0.0.1');
    const hostPort = (host.address() as { port: number }).port;
    const apiPath = join(root, 'api.sock');
    const api = createNetServer((socket) => socket.end('platform-api\n'));
    await listen(api, apiPath);
    // As the server makes its own: any uid may connect; the API itself asks for a token.
    chmodSync(apiPath, 0o666);
    const apiPort = 18_787;
    const exec = executor({ socket: apiPath, port: apiPort });
    const probe = (target: string) =>
      `/usr/bin/node -e 'const s=require("net").connect(${target});s.on("data",d=>process.stdout.write("GOT "+d));s.on("error",e=>console.log("ERR "+e.code))'`;

    const blocked = await run(
      exec,
      testSpec(root, {
        id: 'job_net_blocked',
        sandbox: { egress: 'blocked' },
        command: `${probe(`${hostPort},"127.0.0.1"`)}; ${probe(`"${sandboxApiSocket}"`)}`,
      }),
    );
    expect(blocked.lines).not.toContain('GOT host-service');
    expect(blocked.lines).not.toContain('GOT platform-api');
    expect(blocked.lines.filter((line) => line.startsWith('ERR '))).toHaveLength(2);

    const platform = await run(
      exec,
      testSpec(root, {
        id: 'job_net_platform',
        sandbox: { egress: 'platform' },
        command: `${probe(`${hostPort},"127.0.0.1"`)}; ${probe(`"${sandboxApiSocket}"`)}; ${probe(`${apiPort},"127.0.0.1"`)}`,
      }),
    );
    // The socket, and the same API on 127.0.0.1:<the server's port> through the sandbox's forwarder.
    expect(platform.lines.filter((line) => line === 'GOT platform-api')).toHaveLength(2);
    expect(platform.lines).not.toContain('GOT host-service');
  });
});
