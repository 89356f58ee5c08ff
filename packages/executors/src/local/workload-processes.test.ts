import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcTable } from './proc-table.ts';
import { waitUntil } from './testing/workload-test-kit.ts';
import { findWorkloadProcesses } from './workload-processes.ts';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe('findWorkloadProcesses', () => {
  it('finds a process that left the group and lost its parent only by the id marker', async () => {
    // An intermediate shell starts a new session and exits: the escapee's parent is gone, its group its own.
    const shell = spawn('/bin/sh', ['-c', 'setsid sleep 30 >/dev/null 2>&1 & echo $!'], {
      env: { PATH: process.env.PATH, AICLOUD_WORKLOAD_ID: 'job_marker' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let output = '';
    shell.stdout.on('data', (chunk) => {
      output += chunk;
    });
    await new Promise((resolve) => shell.on('close', resolve));
    const escapee = Number(output.trim());
    started.push(escapee);
    await waitUntil(() => readProcTable()?.get(escapee)?.ppid !== shell.pid);
    const target = {
      pid: shell.pid!,
      starttime: 'gone',
      marker: 'AICLOUD_WORKLOAD_ID=job_marker',
      known: new Map(),
    };
    const table = readProcTable()!;

    expect(findWorkloadProcesses(table, target, { scanEnvironment: false }).members).toEqual([]);
    const found = findWorkloadProcesses(table, target, { scanEnvironment: true });
    expect(found.members.map((member) => member.pid)).toEqual([escapee]);
    expect(found).toMatchObject({ wrapperRunning: false, groupVerified: false });
    // Once seen, it stays known without reading environments.
    const known = new Map([[escapee, table.get(escapee)!.starttime]]);
    expect(
      findWorkloadProcesses(table, { ...target, known }, { scanEnvironment: false }).members,
    ).toHaveLength(1);
  });

  it('does not claim a process group whose leader is another process with the same pid', () => {
    const table = readProcTable()!;
    const self = table.get(process.pid)!;
    const target = {
      pid: process.pid,
      starttime: `${self.starttime}0`,
      marker: 'AICLOUD_WORKLOAD_ID=none',
      known: new Map(),
    };
    expect(findWorkloadProcesses(table, target, { scanEnvironment: true })).toEqual({
      members: [],
      wrapperRunning: false,
      groupVerified: false,
    });
  });
});
