import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, startUp, tempDir, type UpProcess } from './cli-harness.ts';

let dataDir: string;
let server: UpProcess;
let env: Record<string, string>;
let tokens: Record<string, { token: string }>;

beforeAll(async () => {
  dataDir = tempDir('aicloud-cli-');
  server = await startUp(['--data-dir', dataDir]);
  tokens = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  env = { AICLOUD_CONFIG_DIR: tempDir('aicloud-config-'), AICLOUD_URL: '', AICLOUD_TOKEN: '' };
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

describe('aicloud up', () => {
  it('prints the portal URL and how to sign in, and writes 0600 credentials', () => {
    expect(server.output()).toContain('seeded the demo organisation: admin, alice, bob, carol');
    expect(server.output()).toContain('aicloud login --url');
    expect(statSync(join(dataDir, 'credentials.json')).mode & 0o777).toBe(0o600);
  });

  it('refuses a port already in use with a clear message', async () => {
    const port = new URL(server.url).port;
    const result = await runCli(['up', '--data-dir', tempDir('aicloud-busy-'), '--port', port]);
    expect(result.code).toBe(20);
    expect(result.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
  });

  it('refuses an unusable data dir', async () => {
    const file = join(tempDir('aicloud-file-'), 'not-a-dir');
    writeFileSync(file, 'x');
    const result = await runCli(['up', '--data-dir', file, '--port', '0']);
    expect(result.code).toBe(20);
    expect(result.stderr).toContain(`data dir '${file}' is not usable`);
  });

  it('refuses a PostgreSQL that is down', async () => {
    const result = await runCli([
      'up',
      '--data-dir',
      tempDir('aicloud-pgdown-'),
      '--port',
      '0',
      '--database-url',
      'postgres://u:p@127.0.0.1:1/none',
    ]);
    expect(result.code).toBe(20);
    expect(result.stderr).toContain('PostgreSQL at postgres://127.0.0.1:1/none is not reachable');
  });
});

describe('login, whoami, teams, tokens', () => {
  it('logs in, saves a 0600 profile and says who you are', async () => {
    const login = await runCli(['login', '--url', server.url, '--token', tokens.alice!.token], env);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('as alice');
    expect(statSync(join(env.AICLOUD_CONFIG_DIR!, 'profile.json')).mode & 0o777).toBe(0o600);
    const whoami = await runCli(['whoami'], env);
    expect(whoami.stdout).toMatch(/user\s+alice/);
    expect(whoami.stdout).toMatch(/legal-rag\s+member/);
    const json = JSON.parse((await runCli(['whoami', '-o', 'json'], env)).stdout);
    expect(json.user.name).toBe('alice');
  });

  it('lets AICLOUD_URL and AICLOUD_TOKEN override the profile', async () => {
    const result = await runCli(['whoami', '-o', 'json'], {
      ...env,
      AICLOUD_URL: server.url,
      AICLOUD_TOKEN: tokens.carol!.token,
    });
    expect(JSON.parse(result.stdout).user.name).toBe('carol');
  });

  it('refuses a bad token with exit code 3 and a hint', async () => {
    const result = await runCli(['whoami'], { ...env, AICLOUD_URL: server.url, AICLOUD_TOKEN: 'aic_bad' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('aicloud login');
  });

  it('manages teams as admin and hides other teams from members', async () => {
    const admin = { ...env, AICLOUD_URL: server.url, AICLOUD_TOKEN: tokens.admin!.token };
    expect((await runCli(['teams', 'create', 'vision'], admin)).code).toBe(0);
    const added = await runCli(['teams', 'add-member', 'vision', 'dave', '--role', 'manager'], admin);
    expect(added.stdout).toContain('dave is now a manager of vision');
    const list = await runCli(['teams', 'list'], admin);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME\s+MEMBERS\s+CREATED$/);
    expect(list.stdout).toMatch(/vision\s+dave \(manager\)/);
    const denied = await runCli(['teams', 'create', 'nope'], env);
    expect(denied.code).toBe(4);
    const hidden = await runCli(['teams', 'get', 'search'], env);
    expect(hidden.code).toBe(5);
    expect(hidden.stderr).toContain("team 'search' not found");
  });

  it('creates, lists and revokes tokens; the secret is shown once', async () => {
    const created = JSON.parse(
      (await runCli(['tokens', 'create', 'laptop', '--expires-in', '30d', '-o', 'json'], env)).stdout,
    );
    expect(created.token).toMatch(/^aic_/);
    const listed = await runCli(['tokens', 'list', '-o', 'json'], env);
    expect(listed.stdout).not.toContain(created.token);
    expect(JSON.parse(listed.stdout).map((token: { name: string }) => token.name)).toContain('laptop');
    const revoked = await runCli(['tokens', 'revoke', created.id], env);
    expect(revoked.stdout).toContain('Revoked token laptop');
    const refused = await runCli(['whoami'], {
      ...env,
      AICLOUD_URL: server.url,
      AICLOUD_TOKEN: created.token,
    });
    expect(refused.code).toBe(3);
    const badExpiry = await runCli(['tokens', 'create', 'x', '--expires-in', 'forever'], env);
    expect(badExpiry.code).toBe(2);
    expect(badExpiry.stderr).toContain('expiresIn');
  });
});

describe('audit', () => {
  it('lists with filters and verifies the chain', async () => {
    const admin = { ...env, AICLOUD_URL: server.url, AICLOUD_TOKEN: tokens.admin!.token };
    const list = await runCli(['audit', 'list', '--action', 'team.*', '-o', 'json'], admin);
    const records = JSON.parse(list.stdout) as { action: string }[];
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((record) => record.action.startsWith('team.'))).toBe(true);
    const verify = await runCli(['audit', 'verify'], admin);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/audit chain intact: \d+ records verified/);
  });

  it.each([
    [
      'edited',
      (db: Database.Database) => db.prepare("update audit_records set actor = 'mallory' where seq = 4").run(),
      /#4 .* was edited/,
    ],
    [
      'removed',
      (db: Database.Database) => db.prepare('delete from audit_records where seq = 4').run(),
      /record #4 is missing/,
    ],
    [
      'reordered',
      (db: Database.Database) => {
        db.prepare('update audit_records set seq = -1 where seq = 4').run();
        db.prepare('update audit_records set seq = 4 where seq = 5').run();
        db.prepare('update audit_records set seq = 5 where seq = -1').run();
      },
      /#4 .* is out of order/,
    ],
  ])('finds a record that was %s in a tampered copy', async (_kind, tamper, message) => {
    const copyDir = tempDir('aicloud-tamper-');
    const source = new Database(join(dataDir, 'aicloud.db'));
    await source.backup(join(copyDir, 'aicloud.db'));
    source.close();
    copyFileSync(join(dataDir, 'credentials.json'), join(copyDir, 'credentials.json'));
    const db = new Database(join(copyDir, 'aicloud.db'));
    tamper(db);
    db.close();
    const copy = await startUp(['--data-dir', copyDir]);
    try {
      const result = await runCli(['audit', 'verify'], {
        ...env,
        AICLOUD_URL: copy.url,
        AICLOUD_TOKEN: tokens.admin!.token,
      });
      expect(result.code).toBe(7);
      expect(result.stdout).toMatch(message);
    } finally {
      copy.child.kill('SIGTERM');
      await copy.exited;
    }
  });
});

describe('restart', () => {
  it('keeps everything after SIGKILL and seeds nothing again; SIGTERM exits cleanly', async () => {
    const dir = tempDir('aicloud-restart-');
    const first = await startUp(['--data-dir', dir]);
    const credentials = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    const admin = { ...env, AICLOUD_URL: first.url, AICLOUD_TOKEN: credentials.admin.token };
    expect((await runCli(['teams', 'create', 'survivors'], admin)).code).toBe(0);
    first.child.kill('SIGKILL');
    await first.exited;
    // The second start with a gateway worker: the compiled server's own build runs it (no tsx).
    const second = await startUp(['--data-dir', dir, '--gateway-workers', '1', '--gateway-port', '0']);
    expect(second.output()).not.toContain('seeded');
    const gateway = /openai\s+(http:\/\/\S+)\/v1\s+\(1 gateway workers/.exec(second.output())?.[1];
    expect(gateway, second.output()).toBeDefined();
    // The worker answers a data-plane request itself (admitted by the server over IPC: an unknown key)…
    const refused = await fetch(`${gateway}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-aic-unknown', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(refused.status).toBe(401);
    expect((await refused.json()).error.code).toBe('invalid_api_key');
    // …and passes anything else to the server.
    const whoami = await fetch(`${gateway}/v1/whoami`, {
      headers: { authorization: `Bearer ${credentials.admin.token}` },
    });
    expect(whoami.status).toBe(200);
    expect(JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')).admin.token).toBe(
      credentials.admin.token,
    );
    const teams = await runCli(['teams', 'list', '-o', 'json'], { ...admin, AICLOUD_URL: second.url });
    expect(JSON.parse(teams.stdout).map((team: { name: string }) => team.name)).toContain('survivors');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('runs on PostgreSQL with --database-url', async () => {
    const pgUrl = inject('pgUrl');
    const pg = (await import('pg')).default;
    const name = `cli_${process.pid}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(pgUrl);
    url.pathname = `/${name}`;
    const dir = tempDir('aicloud-pg-');
    const up = await startUp(['--data-dir', dir, '--database-url', url.toString()]);
    try {
      expect(up.output()).toContain('store   postgres://127.0.0.1');
      expect(up.output()).not.toContain(url.password);
      const credentials = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
      const whoami = await runCli(['whoami', '-o', 'json'], {
        ...env,
        AICLOUD_URL: up.url,
        AICLOUD_TOKEN: credentials.bob.token,
      });
      expect(JSON.parse(whoami.stdout).memberships).toEqual([{ team: 'legal-rag', role: 'manager' }]);
    } finally {
      up.child.kill('SIGTERM');
      await up.exited;
    }
  });
});
