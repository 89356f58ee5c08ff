// What a new user trips on: prompts without a terminal, the order of reasons, following jobs that wait, exit
// codes, flag errors, metric lines, how tables read, completion, and stopping the server with its workloads.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aicloudBin, runCli, startUp, tempDir, type UpProcess } from './cli-harness.ts';

const repo = join(import.meta.dirname, '../../..');
/** Each test runs several CLI calls, each a Node start-up; two CPUs shared with other test files are slow. */
const SLOW = 120_000;
let dataDir: string;
let server: UpProcess;
let tokens: Record<string, { token: string }>;
let configDir: string;

/** The environment of `user`, signed in through AICLOUD_URL and AICLOUD_TOKEN. */
const as = (user: string) => ({
  AICLOUD_CONFIG_DIR: configDir,
  AICLOUD_URL: server.url,
  AICLOUD_TOKEN: tokens[user]!.token,
});

/** A running CLI command whose output can be waited for. */
interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  waitFor: (pattern: RegExp, stream?: 'stdout' | 'stderr') => Promise<void>;
  exited: Promise<number | null>;
}

function startCli(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [aicloudBin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, stream: 'stdout' | 'stderr' = 'stderr') => {
    const deadline = Date.now() + 30_000;
    while (!pattern.test(stream === 'stdout' ? stdout : stderr)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${stream}:\n${stdout}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { child, stdout: () => stdout, stderr: () => stderr, waitFor, exited };
}

async function jobOf(id: string, user = 'alice') {
  const result = await runCli(['jobs', 'get', id, '-o', 'json'], as(user));
  return JSON.parse(result.stdout) as { status: string; approvalId: string | null };
}

async function until(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Submits a job with --yes and -o json; answers its id and the exit code. */
async function submit(user: string, args: string[]): Promise<{ id: string; code: number; stdout: string }> {
  const result = await runCli(
    ['create', 'job', '--type', 'fine-tune', ...args, '--yes', '-o', 'json'],
    as(user),
  );
  const parsed = JSON.parse(result.stdout) as { job: { id: string } | null };
  return { id: parsed.job?.id ?? '', code: result.code, stdout: result.stdout };
}

beforeAll(async () => {
  dataDir = tempDir('aicloud-behaviour-');
  server = await startUp(['--data-dir', dataDir]);
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  configDir = tempDir('aicloud-behaviour-config-');
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

describe('create job asks first, and only where it can', () => {
  it(
    "refuses without a terminal and without --yes, naming --yes (exit 2): the README's 6-GPU line",
    async () => {
      const result = await runCli(
        ['create', 'job', '--type', 'fine-tune', '--gpus', '6', '--max-runtime', '1h'],
        as('alice'),
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('pass --yes');
      expect(result.stderr).not.toContain('Not submitted.');
      const jobs = JSON.parse((await runCli(['jobs', 'list', '-o', 'json'], as('alice'))).stdout);
      expect(jobs).toEqual([]);
    },
    SLOW,
  );

  it(
    'exits 8 when the answer at the prompt is no',
    async () => {
      const command = [process.execPath, aicloudBin, 'create', 'job', '--type', 'fine-tune', '--gpus', '1']
        .map((word) => `'${word}'`)
        .join(' ');
      // `script` gives the CLI a terminal; the answer is typed once the question is on it.
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        env: { ...process.env, ...as('alice') },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Proceed? [y/N]') && !child.stdin.writableEnded) child.stdin.end('n\n');
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(output).toContain('Not submitted.');
      expect(code).toBe(8);
    },
    SLOW,
  );
});

describe('reasons', () => {
  it(
    'lead with the product maximum, then the budget, in the output and the reason column',
    async () => {
      const result = await runCli(
        ['create', 'job', '--type', 'fine-tune', '--gpus', '16', '--gpu-type', 'H100'],
        as('alice'),
      );
      expect(result.code).toBe(10);
      const rules = [...result.stdout.matchAll(/^ {2}\[([a-z-]+)\]/gm)].map((match) => match[1]);
      expect(rules).toEqual(['gpu-max-per-product', 'budget-covers-estimate']);
      expect(result.stderr).toMatch(/DENIED \(gpu-max-per-product, budget-covers-estimate\)/);
      const list = await runCli(['jobs', 'list', '--status', 'rejected'], as('alice'));
      expect(list.stdout).toMatch(/rejected .*gpu-max-per-product \(\+1 more\)/);
    },
    SLOW,
  );
});

describe('exit codes match docs/cli.md', () => {
  it(
    '2 for an unknown option and a missing flag, with the usage hint',
    async () => {
      const unknown = await runCli(['create', 'job', '--type', 'fine-tune', '--bogus'], as('alice'));
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain("unknown option '--bogus'");
      const missing = await runCli(['create', 'job', '--gpus', '1'], as('alice'));
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("required option '--type <product>' not specified");
      const unknownCommand = await runCli(['jobs', 'lst'], as('alice'));
      expect(unknownCommand.code).toBe(2);
    },
    SLOW,
  );

  it(
    '3 when not signed in, and for a refused token, naming where the token came from',
    async () => {
      const env = { AICLOUD_CONFIG_DIR: tempDir('aicloud-nobody-'), AICLOUD_URL: '', AICLOUD_TOKEN: '' };
      const none = await runCli(['whoami'], env);
      expect(none.code).toBe(3);
      expect(none.stderr).toContain('not signed in');
      const fromEnv = await runCli(['jobs', 'list'], { ...as('alice'), AICLOUD_TOKEN: 'aic_not_a_token' });
      expect(fromEnv.code).toBe(3);
      expect(fromEnv.stderr).toContain('the token in AICLOUD_TOKEN was refused');
      const saved = tempDir('aicloud-saved-');
      writeFileSync(join(saved, 'profile.json'), JSON.stringify({ url: server.url, token: 'aic_revoked' }));
      const fromProfile = await runCli(['whoami'], {
        AICLOUD_CONFIG_DIR: saved,
        AICLOUD_URL: '',
        AICLOUD_TOKEN: '',
      });
      expect(fromProfile.code).toBe(3);
      expect(fromProfile.stderr).toContain(`${saved}/profile.json`);
      const login = await runCli(['login', '--url', server.url, '--token', 'aic_nope'], env);
      expect(login.code).toBe(3);
      expect(login.stderr).toContain('the token given with --token was refused');
    },
    SLOW,
  );

  it(
    '2 for a bad --max-runtime, naming the flag once, before anything is sent',
    async () => {
      const result = await runCli(
        ['create', 'job', '--type', 'fine-tune', '--gpus', '1', '--max-runtime', 'banana', '--yes'],
        as('alice'),
      );
      expect(result.code).toBe(2);
      expect(result.stderr.match(/--max-runtime/g)).toHaveLength(1);
      expect(result.stderr).toContain(
        "argument 'banana' is invalid. must be a duration such as 90s, 30m, 8h or 30d",
      );
      expect(result.stderr).not.toContain('request id');
    },
    SLOW,
  );
});

describe('following a job', () => {
  it(
    'jobs logs -f says it waits for approval, follows once it runs, and exits with its outcome',
    async () => {
      const held = await submit('alice', [
        '--gpus',
        '6',
        '--max-runtime',
        '10m',
        '--command',
        'echo started; exit 3',
      ]);
      expect(held.code).toBe(11);
      const follow = startCli(['jobs', 'logs', held.id, '-f'], as('alice'));
      await follow.waitFor(/waits for a manager’s approval \(apr_/);
      const { approvalId } = await jobOf(held.id);
      const approved = await runCli(['approvals', 'approve', approvalId!], as('bob'));
      expect(approved.code, approved.stderr).toBe(0);
      expect(await follow.exited).toBe(15);
      expect(follow.stdout()).toContain('started');
      expect(follow.stderr()).toContain(`job ${held.id} failed (exit 3)`);
    },
    SLOW,
  );

  it(
    'says in plain words what a queued job waits for and what to do; -f exits 17 when it is cancelled',
    async () => {
      const running = await submit('carol', [
        '--gpus',
        '4',
        '--max-runtime',
        '10m',
        '--command',
        'sleep 120',
      ]);
      expect(running.code).toBe(0);
      const queued = await runCli(
        ['create', 'job', '--type', 'fine-tune', '--gpus', '2', '--max-runtime', '10m', '--yes'],
        as('carol'),
      );
      expect(queued.code).toBe(12);
      expect(queued.stdout).toContain(
        'is allowed and waits for the team’s GPU quota, position 1 in the queue',
      );
      expect(queued.stdout).toContain(
        'team search may use 4 × A100 at once and its jobs already hold 4; this job (2 × A100) waits in the queue until 2 more are free',
      );
      expect(queued.stdout).toContain('it starts by itself when search');
      expect(queued.stdout).toContain('aicloud jobs list --team search --status running');
      expect(queued.stderr).toContain('allowed, but it waits for the team’s GPU quota');
      const id = /Job (job_\w+)/.exec(queued.stdout)![1]!;
      const list = await runCli(['jobs', 'list', '--status', 'queued'], as('carol'));
      expect(list.stdout).toMatch(/queued +1 .*waiting for quota/);

      const follow = startCli(['jobs', 'logs', id, '-f'], as('carol'));
      await follow.waitFor(/waits for the team’s GPU quota \(position 1 in the queue\): team search may use/);
      expect((await runCli(['jobs', 'cancel', id], as('carol'))).code).toBe(0);
      expect(await follow.exited).toBe(17);
      expect(follow.stderr()).toContain(`job ${id} cancelled`);
      expect((await runCli(['jobs', 'cancel', running.id], as('carol'))).code).toBe(0);
    },
    SLOW,
  );

  it(
    'create job --follow tails the log after admission and exits with the outcome',
    async () => {
      const result = await runCli(
        [
          'create',
          'job',
          '--type',
          'fine-tune',
          '--gpus',
          '1',
          '--max-runtime',
          '1h',
          '--command',
          'echo hello from follow',
          '--yes',
          '--follow',
        ],
        as('alice'),
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('admitted');
      expect(result.stdout).toContain('hello from follow');
      expect(result.stderr).toMatch(/job job_\w+ succeeded \(exit 0\)/);
    },
    SLOW,
  );
});

describe('metric lines', () => {
  it(
    'are documented, and lines that look like metrics but do not parse are counted and shown',
    async () => {
      const lines = [
        '{"event":"metric","step":1,"loss":2.5}',
        '{"event":"metric","loss":}',
        "{'event': 'metric', 'loss': 1}",
        '{"event":"metric","step":2,"loss":"1.5"}',
        '{"event":"started"}',
      ];
      const command = lines.map((line) => `echo '${line.replaceAll("'", "'\\''")}'`).join('; ');
      const run = await runCli(
        [
          'create',
          'job',
          '--type',
          'fine-tune',
          '--gpus',
          '1',
          '--max-runtime',
          '1h',
          '--command',
          command,
          '--yes',
          '--follow',
        ],
        as('alice'),
      );
      expect(run.code, run.stderr).toBe(0);
      const id = /Job (job_\w+)/.exec(run.stdout)![1]!;
      const table = await runCli(['jobs', 'metrics', id], as('alice'));
      expect(table.stdout).toMatch(/^loss +1 +2\.5/m);
      expect(table.stdout).toContain(
        '3 lines looked like metrics but did not parse; first: {"event":"metric","loss":}  (not valid JSON)',
      );
      const json = JSON.parse((await runCli(['jobs', 'metrics', id, '-o', 'json'], as('alice'))).stdout);
      expect(json.malformed).toMatchObject({ count: 3, first: { line: '{"event":"metric","loss":}' } });

      const help = await runCli(['jobs', 'metrics', '--help'], as('alice'));
      const format = '{"event":"metric","step":100,"loss":1.23,"lr":0.0001}';
      expect(help.stdout).toContain(format);
      expect(readFileSync(join(repo, 'docs/cli.md'), 'utf8')).toContain(format);
      expect(readFileSync(join(repo, 'README.md'), 'utf8')).toContain(format);
    },
    SLOW,
  );
});

describe('how tables and details read', () => {
  it(
    'durations as typed, relative times, no reserved cost once a job ended, prices in the catalog',
    async () => {
      const { id } = await submit('alice', ['--gpus', '1', '--max-runtime', '1h', '--command', 'true']);
      await until(async () => (await jobOf(id)).status === 'succeeded', 'the job to end');
      const get = await runCli(['jobs', 'get', id], as('alice'));
      expect(get.stdout).toMatch(/max runtime {2}1h$/m);
      expect(get.stdout).toMatch(/created {6}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((just now|\d+ min ago)\)/);
      expect(get.stdout).toMatch(/cost {9}\$\d+\.\d\d \(estimated max \$3\.67\)$/m);
      expect(get.stdout).not.toContain('reserved');
      const list = await runCli(['jobs', 'list'], as('alice'));
      expect(list.stdout.split('\n')[0]).toMatch(/COST +CREATED +REASON$/);
      expect(list.stdout).toMatch(/(just now|\d+ min ago)/);
      expect(list.stdout).not.toMatch(/\d{4}-\d\d-\d\dT/);
      const catalog = await runCli(['catalog', 'list'], as('alice'));
      expect(catalog.stdout.split('\n')[0]).toMatch(/GPU TYPES +PRICE\/H +MAX RUNTIME/);
      expect(catalog.stdout).toMatch(/fine-tune .*A100 \$3\.67, H100 \$6\.98/);
      const tokensList = await runCli(['tokens', 'list'], as('alice'));
      expect(tokensList.stdout).not.toMatch(/\d{4}-\d\d-\d\dT/);
    },
    SLOW,
  );

  it(
    'aicloud completion bash|zsh|fish prints a completion script of the whole command tree',
    async () => {
      const bash = await runCli(['completion', 'bash'], {});
      expect(bash.code).toBe(0);
      expect(bash.stdout).toContain('complete -F _aicloud aicloud');
      const script = join(tempDir('aicloud-completion-'), 'aicloud.bash');
      writeFileSync(script, bash.stdout);
      const complete = (words: string[]) =>
        execFileSync(
          'bash',
          [
            '-c',
            `source '${script}'; COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _aicloud; echo "\${COMPREPLY[*]}"`,
          ],
          { encoding: 'utf8' },
        ).trim();
      expect(complete(['aicloud', 'cr'])).toBe('create');
      expect(complete(['aicloud', 'create', ''])).toBe('job --help');
      expect(complete(['aicloud', 'create', 'job', '--fol'])).toBe('--follow');
      expect(complete(['aicloud', 'jobs', 'logs', '--f'])).toBe('--follow');
      expect(complete(['aicloud', 'do'])).toBe('down');
      const zsh = await runCli(['completion', 'zsh'], {});
      expect(zsh.stdout).toContain('bashcompinit');
      expect(zsh.stdout).toContain('complete -F _aicloud aicloud');
      const fish = await runCli(['completion', 'fish'], {});
      expect(fish.stdout).toContain('complete -c aicloud -n "__aicloud_at \' create job\'" -l follow -s f');
      const bad = await runCli(['completion', 'tcsh'], {});
      expect(bad.code).toBe(2);
    },
    SLOW,
  );
});

describe('stopping', () => {
  it(
    'aicloud down stops the server and its workloads; with nothing running it says so',
    async () => {
      const dir = tempDir('aicloud-down-');
      const up = await startUp(['--data-dir', dir]);
      const credentials = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
      const env = {
        AICLOUD_CONFIG_DIR: configDir,
        AICLOUD_URL: up.url,
        AICLOUD_TOKEN: credentials.alice.token,
      };
      const submitted = await runCli(
        [
          'create',
          'job',
          '--type',
          'fine-tune',
          '--gpus',
          '1',
          '--max-runtime',
          '1h',
          '--command',
          'sleep 300',
          '--yes',
          '-o',
          'json',
        ],
        env,
      );
      const id = JSON.parse(submitted.stdout).job.id as string;
      await until(async () => {
        const job = await runCli(['jobs', 'get', id, '-o', 'json'], env);
        return JSON.parse(job.stdout).status === 'running';
      }, 'the job to run');
      expect(readFileSync(join(dir, 'run', 'server.pid'), 'utf8').trim()).toBe(String(up.child.pid));

      const down = await runCli(['down', '--data-dir', dir], {});
      expect(down.code, down.stderr).toBe(0);
      expect(down.stdout).toContain('Stopped: the server and its workloads.');
      expect(await up.exited).toBe(0);
      expect(up.output()).toContain('stopping running jobs, notebooks and model replicas');
      expect(existsSync(join(dir, 'run', 'server.pid'))).toBe(false);
      const db = new Database(join(dir, 'aicloud.db'), { readonly: true });
      const row = db.prepare('select status from jobs where id = ?').get(id) as { status: string };
      db.close();
      expect(row.status).toBe('cancelled');

      const again = await runCli(['down', '--data-dir', dir], {});
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('nothing to stop');
    },
    SLOW,
  );

  it(
    'Ctrl-C or SIGTERM says that workloads keep running and are re-attached',
    async () => {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.output()).toContain('keep running and are re-attached on the next start');
      expect(server.output()).toContain('aicloud down');
    },
    SLOW,
  );
});
