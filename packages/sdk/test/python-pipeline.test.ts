import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const sdkDir = join(import.meta.dirname, '../python');
const dir = mkdtempSync(join(tmpdir(), 'aicloud-sdk-pipeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a pipeline file that declares one step with `pipeline(…, <extra>)` and prints its spec. */
function specOf(extra: string) {
  const file = join(dir, `p${Math.random().toString(36).slice(2)}.py`);
  writeFileSync(
    file,
    [
      'from aicloud_sdk import step, pipeline',
      '@step(product="batch-inference", retries=2)',
      'def train(lr=0.1):',
      '    pass',
      `pipeline("ft", [train]${extra})`,
    ].join('\n'),
  );
  return spawnSync('python3', [file, '--aicloud-spec'], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: sdkDir },
  });
}

describe('the Python SDK’s pipeline experiment', () => {
  it('puts the experiment in the spec it sends, and leaves it out by default (the pipeline’s name)', () => {
    const named = specOf(', experiment="legal fine-tunes/2026"');
    expect(named.status, named.stderr).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({ name: 'ft', experiment: 'legal fine-tunes/2026' });
    const plain = specOf('');
    expect(plain.status, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout)).not.toHaveProperty('experiment');
  });

  it('refuses a name MLflow would refuse before anything is sent', () => {
    for (const bad of ['""', '"a\\nb"', `"${'x'.repeat(257)}"`]) {
      const refused = specOf(`, experiment=${bad}`);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain('ValueError: experiment: 1-256 characters, no control characters');
    }
  });
});
