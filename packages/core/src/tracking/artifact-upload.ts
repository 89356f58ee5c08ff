import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, unlink } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';
import { mlflowError } from './mlflow-error.ts';
import { cleanArtifactPath } from './run-artifacts.ts';

/** The default cap on one uploaded artifact file (1 GiB; `mlflowArtifactMaxBytes` in the platform config). */
export const DEFAULT_ARTIFACT_MAX_BYTES = 1024 ** 3;

/** One artifact file to write under a run's artifact root. */
export interface ArtifactUpload {
  /** The run's artifact root (created when absent). */
  root: string;
  /** The file's path under the root, as the client sent it (checked here). */
  path: string;
  /** The request body, read as it arrives. */
  body: AsyncIterable<Uint8Array>;
  maxBytes: number;
  /** The size the client announced (Content-Length), refused before reading when over the cap. */
  declaredBytes?: number | undefined;
}

/** The refusal of a file over the cap, in MLflow's code. */
export function tooBig(maxBytes: number) {
  return mlflowError(
    'INVALID_PARAMETER_VALUE',
    `Artifact files must be at most ${maxBytes} bytes on this platform; split the artifact or ask a platform-admin to raise the cap`,
  );
}

/** Creates each directory of `relative` under `realRoot`, refusing links and files in the way. */
async function makeParents(realRoot: string, relative: string): Promise<string> {
  let dir = realRoot;
  for (const part of relative === '.' ? [] : relative.split('/')) {
    dir = join(dir, part);
    const stats = await lstat(dir).catch(() => null);
    if (!stats)
      await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    const now = await lstat(dir);
    if (now.isSymbolicLink() || !now.isDirectory())
      throw mlflowError(
        'INVALID_PARAMETER_VALUE',
        `Invalid path: '${relative}' passes through something that is not a directory of the run's artifacts`,
      );
  }
  return dir;
}

/**
 * Streams one artifact file into a run's artifact root: the path may not leave the root (`..`, absolute,
 * links), the bytes are counted as they arrive and refused past the cap, and the file appears only whole
 * (written to a temporary file beside it, synced, then renamed over the target).
 */
export async function writeRunArtifact(upload: ArtifactUpload): Promise<{ path: string; bytes: number }> {
  const relative = cleanArtifactPath(upload.path);
  if (relative === '')
    throw mlflowError('INVALID_PARAMETER_VALUE', 'Invalid path: name the artifact file to upload');
  if (upload.declaredBytes !== undefined && upload.declaredBytes > upload.maxBytes)
    throw tooBig(upload.maxBytes);
  await mkdir(upload.root, { recursive: true });
  const realRoot = await realpath(upload.root);
  const parent = await makeParents(realRoot, posix.dirname(relative));
  const target = join(parent, posix.basename(relative));
  const existing = await lstat(target).catch(() => null);
  if (existing?.isDirectory())
    throw mlflowError('INVALID_PARAMETER_VALUE', `Invalid path: '${relative}' is a directory of artifacts`);
  const temporary = join(parent, `.upload-${randomBytes(8).toString('hex')}.part`);
  const file = await open(
    temporary,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  let bytes = 0;
  try {
    // A job writes its own run's root too: if it swapped a directory for a link after the checks above, the
    // file opened elsewhere. Where the kernel says it is decides (Linux; elsewhere the checks above stand).
    const opened = await readlink(`/proc/self/fd/${file.fd}`).catch(() => null);
    if (opened !== null && !opened.startsWith(`${realRoot}${sep}`))
      throw mlflowError('INVALID_PARAMETER_VALUE', `Invalid path: '${relative}' left the run's artifacts`);
    for await (const chunk of upload.body) {
      bytes += chunk.byteLength;
      if (bytes > upload.maxBytes) throw tooBig(upload.maxBytes);
      await file.write(chunk);
    }
    await file.sync();
    await file.close();
    // rename() replaces a link at the target itself, never what it points to.
    await rename(temporary, target);
  } catch (error) {
    await file.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw error;
  }
  return { path: relative, bytes };
}
