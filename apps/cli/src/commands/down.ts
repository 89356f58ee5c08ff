import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { CliError } from '../output.ts';

function seconds(value: string): number {
  const match = /^(\d+)(s|m)?$/.exec(value);
  if (!match) throw new InvalidArgumentError('must be a duration such as 90s or 5m');
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

/** Whether pid is a live process (an exited one its parent has not reaped yet is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Whether pid runs aicloud (not another program that got the pid of a server that died), where /proc says. */
function isAicloud(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('aicloud');
  } catch {
    return true;
  }
}

/**
 * `aicloud down`: stops the server of a data dir and its workloads. It writes the server's pid to
 * `DATA_DIR/run/down` and sends SIGTERM to the pid in `DATA_DIR/run/server.pid`; a server that finds the flag
 * cancels its running jobs and stops its notebooks and model replicas before it closes (a plain SIGTERM or
 * Ctrl-C leaves them running, to be re-attached on the next start).
 */
export function downCommand(): Command {
  return new Command('down')
    .description(
      'stop the server of a data dir and its workloads: running jobs are cancelled, notebooks and model replicas stopped (Ctrl-C on `aicloud up` leaves them running)',
    )
    .option('--data-dir <dir>', 'the data dir the server was started with', './.aicloud')
    .option('--timeout <duration>', 'how long to wait for it to stop, e.g. 90s or 5m', seconds, 300)
    .action(async (options: { dataDir: string; timeout: number }) => {
      // As the server names them (serverRunFiles in apps/server/src/start-server.ts).
      const pidFile = join(options.dataDir, 'run', 'server.pid');
      const downFlag = join(options.dataDir, 'run', 'down');
      const dir = resolve(options.dataDir);
      if (!existsSync(pidFile)) {
        process.stdout.write(`No aicloud server runs with data dir ${dir}: nothing to stop.\n`);
        return;
      }
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !isAicloud(pid)) {
        rmSync(pidFile, { force: true });
        throw new CliError(
          `the aicloud server of ${dir} is not running (pid ${pid} in ${pidFile} is gone: it did not stop cleanly), so it cannot stop workloads it left running; start it again (aicloud up --data-dir ${options.dataDir}), which re-attaches them, then run aicloud down`,
          'unavailable',
        );
      }
      writeFileSync(downFlag, `${pid}\n`);
      process.kill(pid, 'SIGTERM');
      process.stdout.write(
        `Stopping the aicloud server (pid ${pid}, data dir ${dir}): cancelling running jobs, stopping notebooks and model replicas…\n`,
      );
      const deadline = Date.now() + options.timeout * 1000;
      while (alive(pid)) {
        if (Date.now() > deadline) {
          throw new CliError(
            `the server (pid ${pid}) is still stopping after ${options.timeout}s; look at its output, or wait and run aicloud down again`,
            'unavailable',
          );
        }
        await new Promise((done) => setTimeout(done, 200));
      }
      rmSync(downFlag, { force: true });
      process.stdout.write('Stopped: the server and its workloads.\n');
    });
}
