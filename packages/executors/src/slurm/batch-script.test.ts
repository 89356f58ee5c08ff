import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { WorkloadSpec } from '../executor.ts';
import {
  gpuGres,
  renderBatchScript,
  shellQuote,
  slurmAccountProblem,
  slurmJobName,
  timeLimitMinutes,
} from './batch-script.ts';

const spec: WorkloadSpec = {
  id: 'job_42',
  command: `python train.py --name "it's"`,
  workDir: '/data/jobs/job_42/work',
  env: { EPOCHS: '3', MESSAGE: `a 'quoted' $HOME \`x\`` },
  gpus: ['0', '1'],
  maxRuntimeSeconds: 90,
  graceSeconds: 10,
  secrets: { HF_TOKEN: 'hf_s3cr3t' },
  logFile: '/data/jobs/job_42/logs/output.log',
  outputDir: '/data/jobs/job_42/output',
  checkpointDir: '/data/jobs/job_42/checkpoints',
  cpus: 4,
  memoryMiB: 2048,
};

function directives(script: string): string[] {
  return script.split('\n').filter((line) => line.startsWith('#SBATCH'));
}

describe('renderBatchScript', () => {
  it('renders the directives Slurm needs from the spec', () => {
    expect(directives(renderBatchScript(spec, { partition: 'gpu' }))).toEqual([
      '#SBATCH --job-name=aic-job_42',
      '#SBATCH --comment=aicloud:job_42',
      '#SBATCH --partition=gpu',
      '#SBATCH --time=2',
      '#SBATCH --nodes=1',
      '#SBATCH --ntasks=1',
      '#SBATCH --gres=gpu:2',
      '#SBATCH --cpus-per-task=4',
      '#SBATCH --mem=2048M',
      '#SBATCH --output=/data/jobs/job_42/work/.aicloud/job_42.stdout',
      '#SBATCH --error=/data/jobs/job_42/work/.aicloud/job_42.stderr',
      '#SBATCH --open-mode=append',
      '#SBATCH --chdir=/data/jobs/job_42/work',
      '#SBATCH --export=NONE',
    ]);
  });

  it('charges the job to the spec’s account with --account, after the time limit', () => {
    const lines = directives(renderBatchScript({ ...spec, account: 'legal-rag' }, { partition: 'gpu' }));
    expect(lines.slice(3, 8)).toEqual([
      '#SBATCH --time=2',
      '#SBATCH --nodes=1',
      '#SBATCH --ntasks=1',
      '#SBATCH --account=legal-rag',
      '#SBATCH --gres=gpu:2',
    ]);
    expect(
      directives(renderBatchScript({ ...spec, account: 'ML_Team.v2-a' }, { partition: 'gpu' })),
    ).toContain('#SBATCH --account=ML_Team.v2-a');
    // Without an account, sbatch picks the submitting user's default account.
    expect(renderBatchScript(spec, { partition: 'gpu' })).not.toContain('--account');
  });

  it('refuses an account name outside [A-Za-z0-9_.-] instead of quoting it', () => {
    for (const account of ['', 'a b', 'a"b', "a'b", 'a\nb', 'a,b', 'a=b', 'a;b', 'a$b', 'a/b', 'é', 'a\tb']) {
      expect(slurmAccountProblem(account), account).toMatch(/must be letters, digits/);
      expect(() => renderBatchScript({ ...spec, account }, { partition: 'gpu' }), account).toThrow(
        /Slurm account .* must be letters, digits/,
      );
    }
    expect(slurmAccountProblem('legal-rag')).toBeUndefined();
    expect(slurmAccountProblem('-x')).toBeUndefined(); // --account=-x is one option with its value
  });

  it('asks for the GPU type it bills: gpu:<type>:N, named as the cluster names it, or gpu:N on untyped GPUs', () => {
    const typed = { ...spec, placement: { gpus: 2, gpuType: 'H100', spot: false, labels: {} } };
    const gres = (options: Parameters<typeof renderBatchScript>[1]) =>
      directives(renderBatchScript(typed, options)).filter((line) => line.includes('--gres'));
    expect(gres({ partition: 'gpu' })).toEqual(['#SBATCH --gres=gpu:h100:2']);
    expect(gres({ partition: 'gpu', gresTypes: { H100: 'nvidia_h100_80gb_hbm3' } })).toEqual([
      '#SBATCH --gres=gpu:nvidia_h100_80gb_hbm3:2',
    ]);
    expect(gres({ partition: 'gpu', gresTypes: { A100: 'a100' } })).toEqual(['#SBATCH --gres=gpu:h100:2']);
    expect(gres({ partition: 'gpu', gresTypes: 'untyped' })).toEqual(['#SBATCH --gres=gpu:2']);
    // No type known: any GPU, as before.
    expect(gpuGres({ ...spec, placement: { gpus: 1, spot: false, labels: {} } })).toBe('gpu:1');
    expect(() => gpuGres(typed, { H100: 'h100:1,license:x' })).toThrow(/must be letters, digits/);
  });

  it('leaves out gres, cpus and mem when the spec does not ask, and hides the GPUs of the node', () => {
    const script = renderBatchScript(
      { ...spec, gpus: [], cpus: undefined, memoryMiB: undefined },
      { partition: 'cpu' },
    );
    expect(script).not.toMatch(/--gres|--cpus-per-task|--mem/);
    expect(script).toContain(`export CUDA_VISIBLE_DEVICES=''`);
  });

  it('starts with a shebang and execs the command, so Slurm signals reach it', () => {
    const script = renderBatchScript(spec, { partition: 'gpu' });
    expect(script.startsWith('#!/bin/sh\n#SBATCH')).toBe(true);
    expect(script.trimEnd().split('\n').at(-1)).toBe(`exec /bin/sh -c 'python train.py --name "it'\\''s"'`);
  });

  it('exports env, secrets and the platform variables, quoted so that the shell reads them back verbatim', () => {
    const script = renderBatchScript(spec, { partition: 'gpu' });
    expect(script).toContain(`export HF_TOKEN='hf_s3cr3t'`);
    // Run the body (without its exec) and print the environment the command would get.
    const body = script.replace(/^exec .*$/m, 'env');
    const env = execFileSync('/bin/sh', ['-c', body], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    const variables = new Map(
      env.split('\n').map((line) => [line.split('=')[0], line.slice(line.indexOf('=') + 1)]),
    );
    expect(variables.get('MESSAGE')).toBe(spec.env.MESSAGE);
    expect(variables.get('EPOCHS')).toBe('3');
    expect(variables.get('HF_TOKEN')).toBe('hf_s3cr3t');
    expect(variables.get('AICLOUD_WORKLOAD_ID')).toBe('job_42');
    expect(variables.get('AICLOUD_OUTPUT_DIR')).toBe(spec.outputDir);
    expect(variables.get('AICLOUD_CHECKPOINT_DIR')).toBe(spec.checkpointDir);
    expect(variables.get('HOME')).toBe(spec.workDir);
    expect(variables.get('LANG')).toBe('C.UTF-8');
    expect(variables.get('SLURM_EXPORT_ENV')).toBe('ALL');
  });

  it('quotes paths with spaces, escapes % in file names, and refuses what a directive cannot hold', () => {
    const script = renderBatchScript({ ...spec, workDir: '/data/my jobs/100%' }, { partition: 'gpu' });
    expect(script).toContain('#SBATCH --chdir="/data/my jobs/100%"');
    expect(script).toContain('#SBATCH --output="/data/my jobs/100%%/.aicloud/job_42.stdout"');
    expect(() => renderBatchScript({ ...spec, workDir: '/data/"x"' }, { partition: 'gpu' })).toThrow(
      /cannot go in a batch script/,
    );
    expect(() => renderBatchScript({ ...spec, env: { 'BAD-NAME': '1' } }, { partition: 'gpu' })).toThrow(
      /BAD-NAME/,
    );
    expect(() => renderBatchScript({ ...spec, cpus: 0 }, { partition: 'gpu' })).toThrow(/cpus/);
  });
});

describe('batch script helpers', () => {
  it('rounds the runtime limit up to whole minutes, at least one', () => {
    expect([1, 59, 60, 61, 90, 3600, 3601].map(timeLimitMinutes)).toEqual([1, 1, 1, 2, 2, 60, 61]);
  });

  it('names jobs aic-<id> with only safe characters', () => {
    expect(slurmJobName('job_1')).toBe('aic-job_1');
    expect(slurmJobName('nb 1/α')).toBe('aic-nb_1__');
  });

  it('quotes for the shell', () => {
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
    expect(
      execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(`a'b"c$d\\e`)}`], { encoding: 'utf8' }),
    ).toBe(`a'b"c$d\\e`);
  });
});
