import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { shellQuote } from './batch-script.ts';

/** What one Slurm command returned. */
export interface SlurmCommandResult {
  /** Exit status; null when the program could not be run or was killed (then `stderr` says why). */
  code: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error: where Slurm's commands put their reasons (`sbatch: error: …`). */
  stderr: string;
}

/**
 * Runs one Slurm command (`sbatch`, `squeue`, `scontrol`, `sacct`, `scancel`) and resolves what it
 * returned; never rejects. Injected so tests can count or fake commands, and so the commands can run
 * elsewhere (over ssh on a login node) without the executor knowing.
 */
export type SlurmCommandRunner = (
  command: string,
  args: readonly string[],
  options?: { input?: string },
) => Promise<SlurmCommandResult>;

/** How the local runner runs commands. */
export interface LocalSlurmRunnerOptions {
  /** A command still running after this long is killed (with its shell) and reads as failed; 60 s by default. */
  timeoutMs?: number;
  /** At most this many commands run at once, each in its own long-lived shell; 4 by default. */
  shells?: number;
}

interface Request {
  command: string;
  args: readonly string[];
  input: string | undefined;
  resolve: (result: SlurmCommandResult) => void;
}

/**
 * Runs Slurm's commands on this host (found on PATH) through a few long-lived `/bin/sh` processes:
 * spawning a process from Node costs several times what a shell's fork costs, and a submission should
 * cost what `sbatch` in a shell loop costs. Each command's stdin is a here-document (or /dev/null), its
 * stdout and stderr come back on the shell's, ended by a random marker with the exit status.
 * The shells do not keep the Node process alive.
 */
export function localSlurmRunner(options: LocalSlurmRunnerOptions = {}): SlurmCommandRunner {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxShells = Math.max(1, options.shells ?? 4);
  const idle: Shell[] = [];
  const queue: Request[] = [];
  let shells = 0;

  const dispatch = (): void => {
    while (queue.length > 0) {
      let shell = idle.pop();
      while (shell && !shell.alive) shell = idle.pop();
      if (!shell && shells < maxShells) {
        shells += 1;
        shell = new Shell(() => {
          shells -= 1;
          dispatch();
        });
      }
      if (!shell) return;
      const request = queue.shift()!;
      const current = shell;
      current.run(request, timeoutMs).then((result) => {
        request.resolve(result);
        if (current.alive) idle.push(current);
        dispatch();
      });
    }
  };

  return (command, args, runOptions = {}) =>
    new Promise((resolve) => {
      queue.push({ command, args, input: runOptions.input, resolve });
      dispatch();
    });
}

/** One long-lived shell that runs one command at a time. */
class Shell {
  alive = true;
  private readonly child: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  /** Where the search for the end markers resumes, so that a long output is scanned once. */
  private scanned = { stdout: 0, stderr: 0 };
  private pending:
    | { marker: string; finish: (result: SlurmCommandResult) => void; timer: NodeJS.Timeout }
    | undefined;

  constructor(onExit: () => void) {
    this.child = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.stdout += chunk;
      this.check();
    });
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.check();
    });
    this.child.stdin.on('error', () => undefined);
    let failure = '';
    this.child.on('error', (error) => {
      failure = error.message;
    });
    this.child.on('close', () => {
      this.alive = false;
      this.pending?.finish({ code: null, stdout: '', stderr: `the command shell ended ${failure}`.trim() });
      onExit();
    });
    this.hold(false);
  }

  /** An idle shell must not keep the process alive (or hold up a test run); a busy one must. */
  private hold(busy: boolean): void {
    const streams = [this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Socket[];
    if (busy) this.child.ref();
    else this.child.unref();
    for (const stream of streams) {
      if (busy) stream.ref();
      else stream.unref();
    }
  }

  run(request: Request, timeoutMs: number): Promise<SlurmCommandResult> {
    return new Promise((resolve) => {
      const marker = `__aicloud_${randomBytes(9).toString('hex')}`;
      const input = request.input;
      if (input?.includes(marker)) {
        resolve({ code: null, stdout: '', stderr: 'the input holds the end marker' });
        return;
      }
      const commandLine = [request.command, ...request.args].map(shellQuote).join(' ');
      const stdin =
        input === undefined
          ? '</dev/null'
          : `<<'${marker}'\n${input}${input.endsWith('\n') ? '' : '\n'}${marker}`;
      const timer = setTimeout(() => this.kill(), timeoutMs);
      this.hold(true);
      this.pending = {
        marker,
        timer,
        finish: (result) => {
          clearTimeout(timer);
          this.pending = undefined;
          if (this.alive) this.hold(false);
          resolve(result);
        },
      };
      this.child.stdin.write(
        `${commandLine} ${stdin}\n` +
          `printf '\\n%s %s\\n' '${marker}' "$?"; printf '\\n%s\\n' '${marker}' >&2\n`,
      );
    });
  }

  /** Resolves the pending command once both streams carry its end marker. */
  private check(): void {
    const pending = this.pending;
    if (!pending) return;
    const outAt = this.find('stdout', `\n${pending.marker} `);
    const errAt = this.find('stderr', `\n${pending.marker}\n`);
    if (outAt < 0 || errAt < 0) return;
    const statusStart = outAt + pending.marker.length + 2;
    const statusEnd = this.stdout.indexOf('\n', statusStart);
    if (statusEnd < 0) return;
    const result = {
      code: Number(this.stdout.slice(statusStart, statusEnd)),
      stdout: this.stdout.slice(0, outAt),
      stderr: this.stderr.slice(0, errAt),
    };
    this.stdout = this.stdout.slice(statusEnd + 1);
    this.stderr = this.stderr.slice(errAt + pending.marker.length + 2);
    this.scanned = { stdout: 0, stderr: 0 };
    pending.finish(result);
  }

  private find(stream: 'stdout' | 'stderr', needle: string): number {
    const text = this[stream];
    const at = text.indexOf(needle, this.scanned[stream]);
    if (at < 0) this.scanned[stream] = Math.max(0, text.length - needle.length);
    return at;
  }

  /** Kills the shell and what it runs (its process group); the pending command reads as failed. */
  private kill(): void {
    this.alive = false;
    const pending = this.pending;
    pending?.finish({ code: null, stdout: this.stdout, stderr: `${this.stderr}the command timed out` });
    const pid = this.child.pid;
    try {
      if (pid !== undefined && pid > 1) process.kill(-pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
  }
}
