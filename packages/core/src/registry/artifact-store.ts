import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readlink, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
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

/** The rule names artifact collection refuses with (in messages and in `details.rule`). */
export const ARTIFACT_RULES = {
  importRoot: 'path-source-inside-import-root',
  symlinkOutside: 'path-source-symlink-inside-root',
  jobOutputSymlink: 'job-output-no-symlinks',
  hardLink: 'artifact-no-hard-links',
  specialFile: 'artifact-regular-files-only',
  sizeCap: 'artifact-size-cap',
  othersReadable: 'path-source-readable-by-others',
  changed: 'artifact-unchanged-while-copied',
} as const;

/** The default cap on the bytes one registration may copy (`importMaxBytes`, `aicloud up --import-max-bytes`). */
export const DEFAULT_IMPORT_MAX_BYTES = 20 * 1024 ** 3;
/** Roots a source may never reach, whatever the import roots say (kernel and system files). */
const SYSTEM_ROOTS = ['/proc', '/sys', '/dev', '/etc', '/boot', '/run'];
const MAX_FILES = 100_000;
const MAX_DEPTH = 32;
const CHUNK = 1024 * 1024;

/** Where a registration's files come from and the rules they are read under. */
export type ArtifactSource =
  | {
      /** A `path:` source: inside one of the team's import roots; links are followed only inside them. */
      kind: 'path';
      path: string;
      /** The team's import roots (the allow-list). */
      roots: string[];
      /** Directories never readable unless a root lies inside them (the platform's data dir). */
      forbidden: string[];
      /**
       * Refuse files not readable by "others" (and directories others cannot list): the server may read more
       * than the team could. Defaults to true when the server runs as root.
       */
      requireOthersReadable?: boolean;
    }
  | {
      /** A job's output dir: the platform's own directory, written by a workload; links are never followed. */
      kind: 'job-output';
      dir: string;
      jobId: string;
    };

/** What collection found: one regular file, as it was when walked. */
interface Collected {
  path: string;
  real: string;
  dev: number;
  ino: number;
  size: number;
  nlink: number;
  mode: number;
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep));
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${Number(value.toFixed(1))} ${units[unit]}`;
}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a named pipe (fifo)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** The digest naming a set of files. */
export function manifestDigest(files: { path: string; sha256: string; size: number }[]): string {
  const lines = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((file) => `${file.path}\0${file.sha256}\0${file.size}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/** Where the kernel says an open file descriptor really is (Linux); null where it cannot say. */
async function openedPath(fd: number): Promise<string | null> {
  try {
    return (await readlink(`/proc/self/fd/${fd}`)).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}

/** The rules of one collection, resolved once. */
interface Walk {
  label: string;
  /** Whether a real path may be read (inside a root, not inside a forbidden dir). */
  allowed(real: string): boolean;
  /** Set where no link may be followed at all (a job's output): the refusal for one. */
  refuseLink: ((path: string, target: string) => AppError) | null;
  othersReadable: boolean;
  maxBytes: number;
  /** How to proceed, appended to refusals. */
  hint: string;
}

async function resolveWalk(source: ArtifactSource, maxBytes: number): Promise<{ walk: Walk; start: string }> {
  if (source.kind === 'job-output') {
    const label = `the output of job ${source.jobId}`;
    const dir = resolve(source.dir);
    let stats: Stats;
    try {
      stats = await lstat(dir);
    } catch {
      throw new AppError('invalid_input', `job ${source.jobId} wrote nothing to its output dir (${dir})`);
    }
    if (stats.isSymbolicLink()) throw jobOutputLink(source.jobId, '.', await readlink(dir).catch(() => '?'));
    if (!stats.isDirectory())
      throw new AppError('invalid_input', `${label} (${dir}) is not a directory`, {
        details: { rule: ARTIFACT_RULES.specialFile },
      });
    const real = join(await realpath(dirname(dir)), basename(dir));
    return {
      start: real,
      walk: {
        label,
        allowed: (path) => inside(path, real),
        refuseLink: (path, target) => jobOutputLink(source.jobId, path, target),
        othersReadable: false,
        maxBytes,
        hint: 'write the files themselves into $AICLOUD_OUTPUT_DIR (copy, do not link), then register the job again',
      },
    };
  }
  const label = `source path:${source.path}`;
  const realRoots = (
    await Promise.all(source.roots.map((root) => realpath(resolve(root)).catch(() => null)))
  ).filter((root): root is string => root !== null);
  const forbidden = [
    ...SYSTEM_ROOTS,
    ...(await Promise.all(source.forbidden.map((path) => realpath(path).catch(() => resolve(path))))),
  ];
  const allowed = (real: string) =>
    realRoots.some(
      (root) =>
        inside(real, root) && forbidden.every((blocked) => !inside(real, blocked) || inside(root, blocked)),
    );
  const shownRoots = source.roots.map((root) => resolve(root));
  const hint = `copy the files into ${shownRoots.length === 1 ? shownRoots[0] : `one of ${shownRoots.join(', ')}`} and register path:<that copy>; a platform-admin can add an import root for the team (aicloud up --import-root TEAM=DIR)`;
  let real: string;
  try {
    await lstat(source.path);
    real = await realpath(source.path);
  } catch {
    throw new AppError('invalid_input', `${label} does not exist or cannot be read by the server; ${hint}`, {
      issues: [{ path: ['source'], message: 'no such path' }],
      details: { roots: shownRoots },
    });
  }
  if (!allowed(real))
    throw new AppError(
      'forbidden',
      `${label}${real === resolve(source.path) ? '' : ` (really ${real})`} is outside the team's import roots (rule ${ARTIFACT_RULES.importRoot}): ${hint}`,
      {
        issues: [{ path: ['source'], message: 'outside the import roots' }],
        details: { rule: ARTIFACT_RULES.importRoot, roots: shownRoots },
      },
    );
  const othersReadable = source.requireOthersReadable ?? process.getuid?.() === 0;
  if (othersReadable) {
    // The directories between the root and the source must be passable by others too.
    const root = realRoots.find((candidate) => inside(real, candidate))!;
    for (let dir = dirname(real); inside(dir, root) && dir !== root; dir = dirname(dir)) {
      const stats = await lstat(dir);
      if ((stats.mode & 0o005) !== 0o005)
        throw new AppError(
          'forbidden',
          `${label}: directory ${dir} is not passable by other users (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}) and the server reads with more rights than the team (rule ${ARTIFACT_RULES.othersReadable}); chmod o+rx it, or copy the files elsewhere in the import root`,
          { details: { rule: ARTIFACT_RULES.othersReadable, path: dir } },
        );
    }
  }
  return {
    start: real,
    walk: {
      label,
      allowed,
      refuseLink: null,
      othersReadable,
      maxBytes,
      hint,
    },
  };
}

function jobOutputLink(jobId: string, path: string, target: string): AppError {
  return new AppError(
    'forbidden',
    `the output of job ${jobId} holds a symbolic link ${path} -> ${target}; outputs are registered without following links (rule ${ARTIFACT_RULES.jobOutputSymlink}), so nothing was registered: write the files themselves into $AICLOUD_OUTPUT_DIR (copy, do not link)`,
    { details: { rule: ARTIFACT_RULES.jobOutputSymlink, path, target } },
  );
}

/**
 * Walks a source with lstat, applying every rule before anything is copied: links only inside the roots
 * (none at all in a job's output), regular files and directories only, no file with a hard link outside what
 * is collected, readable by others where required, and the byte cap.
 */
async function collect(walk: Walk, start: string): Promise<Collected[]> {
  const found: Collected[] = [];
  const visited = new Set<string>();
  let bytes = 0;

  const refuseUnreadable = (path: string, mode: number, directory: boolean) => {
    const needed = directory ? 0o005 : 0o004;
    if (walk.othersReadable && (mode & needed) !== needed)
      throw new AppError(
        'forbidden',
        `${walk.label}: ${path} is not readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}) and the server reads with more rights than the team (rule ${ARTIFACT_RULES.othersReadable}); make it readable (chmod o+r, o+rx for directories) or copy files you may read into the import root`,
        { details: { rule: ARTIFACT_RULES.othersReadable, path } },
      );
  };

  /** Follows a link (path sources only), refusing targets outside the roots; returns the target and its lstat. */
  const follow = async (path: string, shown: string): Promise<{ real: string; stats: Stats }> => {
    const target = await readlink(path).catch(() => '?');
    if (walk.refuseLink) throw walk.refuseLink(shown, target);
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      throw new AppError(
        'invalid_input',
        `${walk.label}: link ${shown} -> ${target} points nowhere; remove it or copy the file it meant`,
      );
    }
    if (!walk.allowed(real))
      throw new AppError(
        'forbidden',
        `${walk.label}: link ${shown} -> ${target} leads out of the import root to ${real} (rule ${ARTIFACT_RULES.symlinkOutside}); ${walk.hint}`,
        { details: { rule: ARTIFACT_RULES.symlinkOutside, path: shown, target: real } },
      );
    return { real, stats: await lstat(real) };
  };

  const add = (path: string, real: string, stats: Stats) => {
    bytes += stats.size;
    if (bytes > walk.maxBytes)
      throw new AppError(
        'invalid_input',
        `${walk.label} holds more than the cap of ${formatBytes(walk.maxBytes)} one registration may copy (rule ${ARTIFACT_RULES.sizeCap}); register a smaller directory, or ask a platform-admin to raise the cap (aicloud up --import-max-bytes)`,
        { details: { rule: ARTIFACT_RULES.sizeCap, maxBytes: walk.maxBytes } },
      );
    found.push({
      path,
      real,
      dev: stats.dev,
      ino: stats.ino,
      size: stats.size,
      nlink: stats.nlink,
      mode: stats.mode,
    });
    if (found.length > MAX_FILES)
      throw new AppError('invalid_input', `${walk.label} holds over ${MAX_FILES} files`);
  };

  const special = (path: string, stats: Stats) =>
    new AppError(
      'invalid_input',
      `${walk.label}: ${path} is ${kindOf(stats)}; only regular files and directories can be registered (rule ${ARTIFACT_RULES.specialFile}); remove it or register a directory without it`,
      { details: { rule: ARTIFACT_RULES.specialFile, path } },
    );

  const walkDir = async (dir: string, rel: string, depth: number) => {
    if (depth > MAX_DEPTH)
      throw new AppError('invalid_input', `${walk.label} nests directories deeper than ${MAX_DEPTH} levels`);
    for (const entry of (await readdir(dir)).sort()) {
      const path = rel ? `${rel}/${entry}` : entry;
      let real = join(dir, entry);
      let stats = await lstat(real);
      if (stats.isSymbolicLink()) ({ real, stats } = await follow(real, path));
      if (stats.isDirectory()) {
        const key = `${stats.dev}:${stats.ino}`;
        if (visited.has(key)) continue;
        visited.add(key);
        refuseUnreadable(path, stats.mode, true);
        await walkDir(real, path, depth + 1);
      } else if (stats.isFile()) add(path, real, stats);
      else throw special(path, stats);
    }
  };

  const stats = await lstat(start);
  if (stats.isFile()) add(basename(start), start, stats);
  else if (stats.isDirectory()) {
    refuseUnreadable('.', stats.mode, true);
    visited.add(`${stats.dev}:${stats.ino}`);
    await walkDir(start, '', 0);
  } else throw special('.', stats);

  // A file with more names than the walk found has a hard link elsewhere (e.g. a key outside the root).
  const names = new Map<string, Set<string>>();
  for (const file of found) {
    const key = `${file.dev}:${file.ino}`;
    names.set(key, (names.get(key) ?? new Set()).add(file.real));
  }
  for (const file of found) {
    if (file.nlink > 1 && names.get(`${file.dev}:${file.ino}`)!.size < file.nlink)
      throw new AppError(
        'forbidden',
        `${walk.label}: ${file.path} is a hard link (${file.nlink} names) to a file partly outside it, so it could be someone else's file (rule ${ARTIFACT_RULES.hardLink}); replace it with a copy (cp --no-preserve=links) and register again`,
        { details: { rule: ARTIFACT_RULES.hardLink, path: file.path } },
      );
  }
  for (const file of found) refuseUnreadable(file.path, file.mode, false);
  if (found.length === 0)
    throw new AppError('invalid_input', `${walk.label} holds no files to register`, {
      issues: [{ path: ['source'], message: 'empty' }],
    });
  return found;
}

/**
 * Copies one collected file without following links (O_NOFOLLOW), checking that what is open is what was
 * walked (device and inode, still a regular file, no new hard link, still inside the roots) and that it did
 * not grow past its walked size.
 */
async function copyChecked(walk: Walk, file: Collected, target: string): Promise<void> {
  const changed = (why: string) =>
    new AppError(
      'conflict',
      `${walk.label}: ${file.path} changed while it was being registered (${why}); nothing was registered (rule ${ARTIFACT_RULES.changed}); try again once nothing writes to it`,
      { details: { rule: ARTIFACT_RULES.changed, path: file.path } },
    );
  let source: Awaited<ReturnType<typeof open>>;
  try {
    source = await open(file.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw changed(code === 'ELOOP' ? 'it became a symbolic link' : `it cannot be opened: ${code}`);
  }
  try {
    const stats = await source.stat();
    if (!stats.isFile()) throw changed('it is no longer a regular file');
    if (stats.dev !== file.dev || stats.ino !== file.ino) throw changed('another file took its place');
    if (stats.nlink > file.nlink) throw changed('a hard link to it was added');
    const opened = await openedPath(source.fd);
    if (opened !== null && !walk.allowed(opened)) throw changed(`what was opened is ${opened}`);
    const out = await open(target, 'wx', 0o600);
    try {
      const buffer = Buffer.allocUnsafe(CHUNK);
      let copied = 0;
      for (;;) {
        const { bytesRead } = await source.read(buffer, 0, CHUNK, null);
        if (bytesRead === 0) break;
        copied += bytesRead;
        if (copied > file.size) throw changed('it grew');
        await out.write(buffer, 0, bytesRead);
      }
    } finally {
      await out.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Copies a source (a local directory or file inside the team's import roots, or a job's output dir) into
 * the content-addressed artifact store and scans the copy, so that what was scanned is exactly what is
 * kept. Every rule is checked before anything is written; a refusal leaves nothing behind. Identical content
 * is stored once.
 */
export async function storeArtifact(options: {
  dataDir: string;
  source: ArtifactSource;
  /** The cap on the bytes copied (default DEFAULT_IMPORT_MAX_BYTES). */
  maxBytes?: number;
  scan?: ScanOptions;
}): Promise<StoredArtifact> {
  const { walk, start } = await resolveWalk(options.source, options.maxBytes ?? DEFAULT_IMPORT_MAX_BYTES);
  const files = await collect(walk, start);
  const artifacts = join(options.dataDir, 'artifacts');
  const incoming = join(artifacts, `.incoming-${randomBytes(6).toString('hex')}`);
  await mkdir(incoming, { recursive: true, mode: 0o700 });
  try {
    for (const file of files) {
      const target = join(incoming, ...file.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await copyChecked(walk, file, target);
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
