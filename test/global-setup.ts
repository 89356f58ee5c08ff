import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL server of the store tests (AICLOUD_TEST_PG_URL, or a throwaway one started here). */
    pgUrl: string;
  }
}

const root = join(import.meta.dirname, '..');
const isRoot = process.getuid?.() === 0;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Runs a service script, its stderr shown, its stdout returned. */
function service(script: string, args: string[] = []): string {
  return execFileSync(join(root, 'scripts/services', script), args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

// The daemons of scripts/services/slurm-up.sh, by pid file.
const slurmPidFiles = [
  '/run/aicloud-slurm/slurmd.pid',
  '/run/aicloud-slurm/slurmctld.pid',
  '/run/munge/munged.pid',
];

function runningPid(pidFile: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      await sleep(100);
      process.kill(pid, 0);
    }
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/**
 * Brings what the tests use for real: a throwaway PostgreSQL 15 (unless AICLOUD_TEST_PG_URL names one), the
 * project's own one-node Slurm cluster (unless AICLOUD_TEST_SLURM=1 says one is up), and the built portal.
 * The Debian packages come from `npm test`'s pretest (scripts/test-prereqs.sh). Nothing is skipped: where a
 * service cannot be started the run fails here, naming the fix. Teardown stops only what was started here.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const teardown: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const step of teardown.reverse()) await step();
  };
  try {
    let pgUrl = process.env.AICLOUD_TEST_PG_URL;
    if (!pgUrl) {
      if (!isRoot || !existsSync('/usr/lib/postgresql/15/bin/postgres'))
        throw new Error(
          'the store tests need PostgreSQL 15: run `npm test` as root (it installs postgresql-15 and starts a ' +
            'throwaway server), or set AICLOUD_TEST_PG_URL=postgres://user:pass@host:port/db',
        );
      const pgDir = `/tmp/aicloud-test-pg-${process.pid}`;
      teardown.push(() => void service('pg-down.sh', [pgDir]));
      pgUrl =
        service('pg-up.sh', [pgDir, String(await freePort())])
          .trim()
          .split('\n')
          .at(-1) ?? '';
    }
    project.provide('pgUrl', pgUrl);

    if (!process.env.AICLOUD_TEST_SLURM) {
      if (!isRoot)
        throw new Error(
          'the Slurm tests need the project’s one-node cluster: run `npm test` as root (it starts ' +
            'scripts/services/slurm-up.sh), or start it yourself and set AICLOUD_TEST_SLURM=1',
        );
      // Only the cluster slurm-up.sh writes (/etc/slurm, which it never takes from a real cluster), never
      // one that SLURM_CONF points the Slurm commands of the tests at.
      delete process.env.SLURM_CONF;
      const running = new Set(slurmPidFiles.filter((file) => runningPid(file) !== null));
      teardown.push(async () => {
        const started = slurmPidFiles.filter((file) => !running.has(file)).map(runningPid);
        await Promise.all(started.map((pid) => (pid === null ? undefined : stopPid(pid))));
      });
      service('slurm-up.sh');
    }

    if (!existsSync(join(root, 'apps/web/dist/index.html'))) {
      execFileSync('npm', ['run', 'build', '--workspace', 'apps/web'], { cwd: root, stdio: 'ignore' });
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return stopAll;
}
