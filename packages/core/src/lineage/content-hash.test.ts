import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashTree } from './content-hash.ts';

/** The same definition written independently (Python): sha256 over sorted (relative path, NUL, bytes, NUL). */
function pythonHash(root: string): string {
  const script = `
import hashlib, os, sys
root = sys.argv[1]
files = []
for base, dirs, names in os.walk(root):
    for name in names:
        path = os.path.join(base, name)
        files.append((os.path.relpath(path, root), path))
h = hashlib.sha256()
for rel, path in sorted(files):
    h.update(rel.encode() + b"\\0")
    h.update(open(path, "rb").read())
    h.update(b"\\0")
print(h.hexdigest())
`;
  return execFileSync('python3', ['-c', script, root], { encoding: 'utf8' }).trim();
}

describe('hashTree', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const temp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'aicloud-hash-'));
    dirs.push(dir);
    return dir;
  };

  it('is sha256 over the files sorted by relative path, and changes with one byte', () => {
    const dir = temp();
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'a-b'));
    writeFileSync(join(dir, 'a/x.txt'), 'one');
    writeFileSync(join(dir, 'a-b/x.txt'), 'two');
    writeFileSync(join(dir, 'top.txt'), 'three');
    const before = hashTree(dir);
    expect(before).toBe(pythonHash(dir));
    writeFileSync(join(dir, 'a/x.txt'), 'onE');
    expect(hashTree(dir)).not.toBe(before);
  });

  it('never follows a link (a loop or a server file is hashed as the link text) and hashes a missing path as empty', () => {
    const dir = temp();
    writeFileSync(join(dir, 'data.txt'), 'rows');
    symlinkSync(dir, join(dir, 'loop'));
    symlinkSync('/etc/passwd', join(dir, 'passwd'));
    const withLinks = hashTree(dir);
    expect(withLinks).toMatch(/^[0-9a-f]{64}$/);
    rmSync(join(dir, 'passwd'));
    symlinkSync('/etc/hostname', join(dir, 'passwd'));
    expect(hashTree(dir)).not.toBe(withLinks);
    expect(hashTree(join(dir, 'absent'))).toBe(hashTree(temp()));
  });
});
