import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * sha256 over a tree's files sorted by relative path: for each, its path, a NUL, its bytes, a NUL (one file
 * hashes with an empty path). Links are hashed as `link:` and their target's text, never followed, and special
 * files are skipped, so a tree written by a workload (a link loop, a link to a server file, a FIFO) cannot make
 * the server read outside it or hang. A path that does not exist hashes as the empty tree.
 */
export function hashTree(root: string): string {
  const entries: { name: string; path: string; link: boolean }[] = [];
  const collect = (path: string) => {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(path);
    } catch {
      return;
    }
    if (stat.isDirectory()) for (const child of readdirSync(path)) collect(join(path, child));
    else if (stat.isFile() || stat.isSymbolicLink())
      entries.push({ name: relative(root, path), path, link: stat.isSymbolicLink() });
  };
  collect(root);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const hash = createHash('sha256');
  for (const entry of entries) {
    hash.update(`${entry.name}\0`);
    hash.update(entry.link ? `link:${readlinkSync(entry.path)}` : readFileSync(entry.path));
    hash.update('\0');
  }
  return hash.digest('hex');
}
