import { execFile } from 'node:child_process';
import { chownSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aicloudBin, tempDir } from './cli-harness.ts';

// `aicloud up` as a user that cannot sandbox workloads (not root): it says what isolation is missing,
// and refuses a store with several teams unless --allow-shared-uid accepts shared privileges.
function upAsNobody(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const dataDir = tempDir('aicloud-nobody-');
  chownSync(dataDir, 65534, 65534);
  return new Promise((resolve) => {
    const child = execFile(
      '/usr/bin/setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        aicloudBin,
        'up',
        '--data-dir',
        dataDir,
        '--port',
        '0',
        ...args,
      ],
      { env: { ...process.env, HOME: dataDir }, timeout: 90_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      // Started: stop it, the test has seen the banner.
      if (chunk.toString().includes('Stop with Ctrl-C')) child.kill('SIGTERM');
    });
  });
}

describe('aicloud up without a sandbox', () => {
  it('refuses several teams (the demo seed) and names --allow-shared-uid', async () => {
    const result = await upAsNobody([]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('workloads cannot be sandboxed here');
    expect(result.stderr).toContain('the server does not run as root');
    expect(result.stderr).toContain('--allow-shared-uid');
  }, 120_000);

  it('starts with --allow-shared-uid and says loudly that workloads are not isolated', async () => {
    const result = await upAsNobody(['--allow-shared-uid']);
    expect(result.stdout).toContain('aicloud is up at');
    expect(result.stdout).toContain('WARNING: workloads are NOT isolated (the server does not run as root');
  }, 120_000);
});
