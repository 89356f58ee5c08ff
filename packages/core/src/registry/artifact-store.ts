import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { AppError } from '../app-error.ts';
import { type ScanOptions, type ScanResult, scanDirectory } from './scanner/index.ts';

/** A version's files as stored: content-addressed, read-only, scanned. */
export interface StoredArtifact {
  /** sha256 over the sorted (path, sha256, size) list. */
  digest: string;
  /** `<dataDir>/artifacts/<digest[0:2]>/<digest>`. */
  artifactDir: string;
  scan: ScanResult;
}

/** Roots a local path source may never be read from (the platform's own state, kernel and system files). */
const SYSTEM_ROOTS = ['/proc', '/sys', '/dev', '/etc', '/boot', '/run'];
const MAX_FILES = 100_000;

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep);
}

/** The digest naming a set of files. */
export function manifestDigest(files: { path: string; sha256: string; size: number }[]): string {
  const lines = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((file) => `${file.path}\0${file.sha256}\0${file.size}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/** Regular files under a source (a directory or one file), following links, refusing forbidden targets. */
async function collect(source: string, forbidden: string[]): Promise<{ path: string; real: string }[]> {
  let root: string;
  try {
    root = await realpath(source);
  } catch {
    throw new AppError(
      'invalid_input',
      `local path ${source} does not exist or cannot be read by the server`,
      {
        issues: [{ path: ['source'], message: 'no such path' }],
      },
    );
  }
  const refuse = (real: string) => {
    const blocked = forbidden.find((candidate) => inside(real, candidate));
    if (blocked)
      throw new AppError(
        'forbidden',
        `local path ${source} reaches ${real}, inside ${blocked}, which a model may not be registered from`,
      );
  };
  refuse(root);
  const found: { path: string; real: string }[] = [];
  const seen = new Set<string>();
  const walk = async (dir: string, rel: string, depth: number) => {
    if (depth > 32) throw new AppError('invalid_input', `${source} nests directories deeper than 32 levels`);
    if (seen.has(dir)) return;
    seen.add(dir);
    for (const entry of (await readdir(dir)).sort()) {
      const real = await realpath(join(dir, entry));
      refuse(real);
      const stats = await stat(real);
      const path = rel ? `${rel}/${entry}` : entry;
      if (stats.isDirectory()) await walk(real, path, depth + 1);
      else if (stats.isFile()) found.push({ path, real });
      if (found.length > MAX_FILES)
        throw new AppError('invalid_input', `${source} holds over ${MAX_FILES} files`);
    }
  };
  const rootStats = await stat(root);
  if (rootStats.isFile()) found.push({ path: root.split(sep).at(-1)!, real: root });
  else if (rootStats.isDirectory()) await walk(root, '', 0);
  if (found.length === 0)
    throw new AppError('invalid_input', `local path ${source} holds no files to register`, {
      issues: [{ path: ['source'], message: 'empty' }],
    });
  return found;
}

/**
 * Copies a local directory (or file) into the content-addressed artifact store and scans the copy, so that
 * what was scanned is exactly what is kept. Identical content is stored once.
 */
export async function storeArtifact(options: {
  dataDir: string;
  source: string;
  /** The platform's own directories, never readable as a source (none for job outputs it owns). */
  forbidden: string[];
  scan?: ScanOptions;
}): Promise<StoredArtifact> {
  const forbidden = [
    ...SYSTEM_ROOTS,
    ...(await Promise.all(options.forbidden.map((path) => realpath(path).catch(() => path)))),
  ];
  const files = await collect(options.source, forbidden);
  const artifacts = join(options.dataDir, 'artifacts');
  const incoming = join(artifacts, `.incoming-${randomBytes(6).toString('hex')}`);
  await mkdir(incoming, { recursive: true, mode: 0o700 });
  try {
    for (const file of files) {
      const target = join(incoming, ...file.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await copyFile(file.real, target);
    }
    const scan = await scanDirectory(incoming, options.scan);
    const digest = manifestDigest(scan.files);
    const artifactDir = join(artifacts, digest.slice(0, 2), digest);
    if (existsSync(artifactDir)) {
      await rm(incoming, { recursive: true, force: true });
    } else {
      for (const file of scan.files) await chmod(join(incoming, ...file.path.split('/')), 0o444);
      await mkdir(dirname(artifactDir), { recursive: true });
      try {
        await rename(incoming, artifactDir);
      } catch (error) {
        // Another registration stored the same content first.
        if (!existsSync(artifactDir)) throw error;
        await rm(incoming, { recursive: true, force: true });
      }
    }
    return { digest, artifactDir, scan };
  } catch (error) {
    await rm(incoming, { recursive: true, force: true });
    throw error;
  }
}
