import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TinyLM } from '../tiny-lm/model.mjs';

const script = join(import.meta.dirname, 'train.mjs');
const seedDataset = join(import.meta.dirname, '../../seed/datasets/legal-rag-v2');
const JOB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const STEPS = 200;

interface Run {
  child: ChildProcess;
  lines: string[];
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves with the first stdout line that matches. */
  waitFor(match: (line: string) => boolean): Promise<string>;
}

let root: string;

/**
 * Starts train.mjs the way a job runs: `/bin/sh -c` in its own process group (signals go to the whole
 * group, as the local executor sends them), a minimal PATH, a work dir as cwd, aicloud's env vars.
 * The command uses `exec` so the job's exit status is the trainer's, not that of a shell killed by SIGTERM.
 */
function startJob(name: string, extraEnv: Record<string, string> = {}): Run {
  const jobDir = join(root, name);
  const workDir = join(jobDir, 'work');
  mkdirSync(workDir, { recursive: true });
  const child = spawn('/bin/sh', ['-c', `exec '${process.execPath}' '${script}'`], {
    cwd: workDir,
    detached: true,
    env: {
      PATH: JOB_PATH,
      HOME: workDir,
      AICLOUD_DATASETS: `${join(root, 'datasets/legal-rag/v2')}:${join(root, 'datasets/unused')}`,
      AICLOUD_OUTPUT_DIR: join(jobDir, 'output'),
      AICLOUD_CHECKPOINT_DIR: join(jobDir, 'checkpoints'),
      AICLOUD_JOB_ID: name,
      AICLOUD_URL: 'http://127.0.0.1:9',
      AICLOUD_RUN_TOKEN: 'test-token',
      STEPS: String(STEPS),
      SEED: '42',
      EVAL_EVERY: '50',
      CHECKPOINT_EVERY: '50',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      for (const waiter of waiters.splice(0)) {
        if (waiter.match(line)) waiter.resolve(line);
        else waiters.push(waiter);
      }
      newline = buffered.indexOf('\n');
    }
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    child,
    lines,
    done,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        const found = lines.find(match);
        if (found) return resolve(found);
        waiters.push({ match, resolve });
        void done.then(() => reject(new Error(`job ended before the line appeared:\n${lines.join('\n')}`)));
      }),
  };
}

function events(lines: string[]): Record<string, unknown>[] {
  return lines
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const metrics = (lines: string[]) => events(lines).filter((e) => e.event === 'metric');

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'aicloud-fine-tune-'));
  const dataset = join(root, 'datasets/legal-rag/v2');
  mkdirSync(dataset, { recursive: true });
  mkdirSync(join(root, 'datasets/unused'), { recursive: true });
  for (const file of ['train.jsonl', 'eval.jsonl'])
    copyFileSync(join(seedDataset, file), join(dataset, file));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('the example fine-tune job (train.mjs)', () => {
  let straightModel: Buffer;

  it('trains, prints metric lines and writes the model to the output dir', async () => {
    const run = startJob('straight');
    const result = await run.done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = metrics(run.lines);
    const training = lines.filter((m) => typeof m.loss === 'number');
    expect(training.length).toBe(STEPS / 10);
    for (const m of training) {
      expect(m).toMatchObject({ event: 'metric' });
      expect(typeof m.step).toBe('number');
      expect(m.tokens_per_s).toBeGreaterThan(0);
      expect(m.learning_rate).toBeGreaterThan(0);
    }
    expect(training.at(-1)?.step).toBe(STEPS);
    const evals = lines.filter((m) => typeof m.eval_loss === 'number').map((m) => m.eval_loss as number);
    expect(evals.length).toBe(1 + STEPS / 50);
    const [initial = 0, final = 0] = [evals[0], evals.at(-1)];
    expect(final).toBeLessThan(0.7 * initial);

    const output = join(root, 'straight/output');
    for (const file of ['model.safetensors', 'tokenizer.json', 'config.json', 'MODEL', 'metrics.json']) {
      expect(existsSync(join(output, file)), file).toBe(true);
    }
    expect(readFileSync(join(output, 'MODEL'), 'utf8').trim()).toBe('legal-answerer');
    expect(JSON.parse(readFileSync(join(output, 'config.json'), 'utf8')).runtime).toBe('aicloud-tiny');
    const model = TinyLM.load(output);
    expect(model.generate('What is arbitration?', { temperature: 0 }).text).toContain('arbitrat');
    expect(readdirSync(join(root, 'straight/checkpoints')).sort()).toEqual([
      `checkpoint-${STEPS - 50}`,
      `checkpoint-${STEPS}`,
    ]);
    straightModel = readFileSync(join(output, 'model.safetensors'));
  });

  it('checkpoints on SIGTERM, exits 0, and resumes where it stopped', async () => {
    const env = { CHECKPOINT_EVERY: '0' };
    const first = startJob('preempted', env);
    await first.waitFor((line) => line.includes('"step":10,'));
    process.kill(-(first.child.pid ?? 0), 'SIGTERM');
    const stopped = await first.done;
    expect(stopped.code).toBe(0);
    const preempted = events(first.lines).find((e) => e.event === 'preempted');
    expect(preempted).toMatchObject({ signal: 'SIGTERM' });
    const stoppedAt = preempted?.step as number;
    expect(stoppedAt).toBeGreaterThanOrEqual(10);
    expect(stoppedAt).toBeLessThan(STEPS);
    expect(readdirSync(join(root, 'preempted/checkpoints'))).toEqual([`checkpoint-${stoppedAt}`]);
    expect(existsSync(join(root, 'preempted/output/model.safetensors'))).toBe(false);

    const second = startJob('preempted', env);
    const resumed = await second.done;
    expect(resumed.code).toBe(0);
    expect(second.lines).toContain(
      `resumed from checkpoint ${join(root, 'preempted/checkpoints', `checkpoint-${stoppedAt}`)} at step ${stoppedAt}`,
    );
    expect(events(second.lines).find((e) => e.event === 'resumed')).toMatchObject({ step: stoppedAt });
    const steps = metrics(second.lines).map((m) => m.step as number);
    expect(Math.min(...steps)).toBeGreaterThan(stoppedAt);
    expect(Math.max(...steps)).toBe(STEPS);
    // Resuming is exact: the interrupted run ends with the same weights as the uninterrupted one.
    expect(readFileSync(join(root, 'preempted/output/model.safetensors')).equals(straightModel)).toBe(true);
  });

  it('fails clearly without a dataset or an output dir', async () => {
    const run = startJob('misconfigured', { AICLOUD_DATASETS: '', AICLOUD_OUTPUT_DIR: '' });
    const result = await run.done;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no dataset');
  });
});
