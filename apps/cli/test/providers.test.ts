import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startUp, tempDir, type UpProcess } from './cli-harness.ts';

/** `aicloud providers` and `aicloud secrets --platform`, against a real `aicloud up`. */
let server: UpProcess;
let tokens: Record<string, { token: string }>;
const as = (user: string) => ({ AICLOUD_URL: server.url, AICLOUD_TOKEN: tokens[user]!.token });
const KEY_VALUE = 'sk-upstream-provider-key-0123456789';

beforeAll(async () => {
  const dataDir = tempDir('aicloud-providers-cli-');
  server = await startUp(['--data-dir', dataDir]);
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
}, 150_000);
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

// Exit codes as docs/cli.md: 2 usage or invalid input, 4 forbidden, 5 not found.
describe('aicloud providers', () => {
  it('a member cannot set a platform secret; a platform-admin sets it from stdin, never from argv', async () => {
    const member = await runCli(
      ['secrets', 'set', '--platform', 'OPENAI_KEY'],
      as('alice'),
      'x-value-123456',
    );
    expect(member.code).not.toBe(0);
    expect(member.stderr).toContain(
      'cannot set platform secret OPENAI_KEY: only platform-admins set platform secrets',
    );
    const both = await runCli(['secrets', 'set', '--platform', '--team', 'search', 'X'], as('admin'), 'v');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('pass --team or --platform, not both');
    const set = await runCli(['secrets', 'set', '--platform', 'OPENAI_KEY'], as('admin'), `${KEY_VALUE}\n`);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("Platform secret OPENAI_KEY set. Name it as a provider's key");
    const listed = await runCli(['secrets', 'list', '--platform', '-o', 'json'], as('admin'));
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).map((secret: { name: string }) => secret.name)).toEqual(['OPENAI_KEY']);
    expect(listed.stdout).not.toContain(KEY_VALUE);
  });

  it('a platform-admin adds a provider; its key secret must exist; a bad --model is a usage error', async () => {
    const missing = await runCli(
      ['providers', 'add', 'other', '--base-url', 'http://127.0.0.1:9/v1', '--key-secret', 'NOPE'],
      as('admin'),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('give at least one --model');
    const badModel = await runCli(
      [
        ...['providers', 'add', 'other', '--base-url', 'http://127.0.0.1:9/v1', '--key-secret', 'NOPE'],
        ...['--model', 'name=m,input=1'],
      ],
      as('admin'),
    );
    expect(badModel.code).toBe(2);
    expect(badModel.stderr).toContain('m needs output=USD per million output tokens');
    const noSecret = await runCli(
      [
        ...['providers', 'add', 'other', '--base-url', 'http://127.0.0.1:9/v1', '--key-secret', 'NOPE'],
        ...['--model', 'name=m,input=1,output=2'],
      ],
      as('admin'),
    );
    expect(noSecret.code).not.toBe(0);
    expect(noSecret.stderr).toContain('no platform secret NOPE');
    expect(noSecret.stderr).toContain('aicloud secrets set --platform NOPE');

    const added = await runCli(
      [
        ...['providers', 'add', 'stub', '--base-url', 'http://127.0.0.1:9/v1', '--key-secret', 'OPENAI_KEY'],
        ...[
          '--model',
          'name=gpt-4o-mini,input=0.15,output=0.6',
          '--model',
          'name=gpt-4o,input=2.5,output=10',
        ],
        ...['--pii', 'block', '--fallback', 'stub/gpt-4o'],
      ],
      as('admin'),
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('Registered provider stub (http://127.0.0.1:9/v1)');
    expect(added.stdout).toContain('Teams call it as stub/gpt-4o-mini, stub/gpt-4o on /v1/chat/completions');
    expect(added.stdout).not.toContain(KEY_VALUE);
  });

  it('a member lists models and prices with no base URL, secret name or key, as a table and as JSON', async () => {
    const text = await runCli(['providers', 'list'], as('carol'));
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/MODEL\s+INPUT \$\/1M\s+OUTPUT \$\/1M\s+PII\n/);
    expect(text.stdout).toMatch(/stub\/gpt-4o-mini\s+\$0\.15\s+\$0\.60\s+block/);
    expect(text.stdout).toMatch(/stub\/gpt-4o\s+\$2\.50\s+\$10\.00\s+block/);
    const json = await runCli(['providers', 'list', '-o', 'json'], as('carol'));
    expect(json.code, json.stderr).toBe(0);
    const items = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(items).toEqual([
      {
        name: 'stub',
        models: [
          { name: 'gpt-4o-mini', inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 },
          { name: 'gpt-4o', inputUsdPerMTok: 2.5, outputUsdPerMTok: 10 },
        ],
        piiMode: 'block',
      },
    ]);
    for (const output of [text.stdout, json.stdout]) {
      expect(output).not.toContain(KEY_VALUE);
      expect(output).not.toContain('OPENAI_KEY');
      expect(output).not.toContain('127.0.0.1');
    }
    // Platform-admins see how it is reached: the secret's name, never its value.
    const admin = await runCli(['providers', 'list'], as('admin'));
    expect(admin.stdout).toMatch(
      /stub\/gpt-4o-mini\s+\$0\.15\s+\$0\.60\s+block\s+stub\/gpt-4o\s+OPENAI_KEY\s+http:\/\/127\.0\.0\.1:9\/v1/,
    );
    expect(admin.stdout).not.toContain(KEY_VALUE);
  });

  it("a member's add and remove are refused, saying what was asked, the rule and what to do", async () => {
    const add = await runCli(
      [
        ...['providers', 'add', 'rogue', '--base-url', 'http://127.0.0.1:9/v1', '--key-secret', 'OPENAI_KEY'],
        ...['--model', 'name=m,input=0,output=0'],
      ],
      as('alice'),
    );
    expect(add.code).toBe(4);
    expect(add.stderr).toContain('alice may not register provider rogue');
    expect(add.stderr).toContain('only platform-admins register or remove external providers');
    expect(add.stderr).toContain('aicloud providers list');
    const remove = await runCli(['providers', 'remove', 'stub'], as('carol'));
    expect(remove.code).toBe(4);
    expect(remove.stderr).toContain('carol may not remove provider stub');
    expect((await runCli(['providers', 'list', '-o', 'json'], as('carol'))).stdout).toContain('"stub"');
  });

  it('a platform-admin removes a provider; removing it again is not found', async () => {
    const removed = await runCli(['providers', 'remove', 'stub'], as('admin'));
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('Removed provider stub');
    const empty = await runCli(['providers', 'list'], as('carol'));
    expect(empty.stdout).toContain('No external providers');
    const again = await runCli(['providers', 'remove', 'stub'], as('admin'));
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('stub');
  });
});
