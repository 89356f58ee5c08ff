import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import { mlflowError } from './mlflow-error.ts';

/** MLflow's ListArtifacts answer. */
export interface ArtifactListing {
  root_uri: string;
  files: { path: string; is_dir: boolean; file_size?: number }[];
}

const MAX_LISTED = 10_000;

/** A relative artifact path, normalized; INVALID_PARAMETER_VALUE for `..`, absolute paths and NUL. */
export function cleanArtifactPath(path: string): string {
  // normalize() already drops `./` and resolves inner `..`; what is left of `..` leads out of the root.
  const normalized = posix.normalize(path.replaceAll('\\', '/')).replace(/\/$/, '');
  if (
    path.includes('\0') ||
    normalized.startsWith('/') ||
    normalized === '..' ||
    normalized.startsWith('../')
  ) {
    throw mlflowError(
      'INVALID_PARAMETER_VALUE',
      `Invalid path: '${path}'. Paths are relative to the run's artifact root`,
    );
  }
  return normalized === '.' ? '' : normalized;
}

/** The real path of `relative` under `root`, or null when it does not exist or resolves outside (links). */
export function resolveUnder(root: string, relative: string): string | null {
  if (!existsSync(root)) return null;
  const realRoot = realpathSync(root);
  const target = join(realRoot, relative);
  if (!existsSync(target)) return null;
  const real = realpathSync(target);
  return real === realRoot || real.startsWith(realRoot + sep) ? real : null;
}

/** Lists one directory of a run's artifacts (MLflow lists a level at a time). */
export function listRunArtifacts(
  run: { artifact_dir: string; artifact_uri: string },
  path: string,
): ArtifactListing {
  const relative = cleanArtifactPath(path);
  const dir = resolveUnder(run.artifact_dir, relative);
  if (!dir || !statSync(dir).isDirectory()) return { root_uri: run.artifact_uri, files: [] };
  const files = readdirSync(dir, { withFileTypes: true })
    .slice(0, MAX_LISTED)
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      // Links are followed only where they stay under the root.
      const real = resolveUnder(run.artifact_dir, child);
      if (!real) return [];
      const stat = statSync(real);
      return [
        stat.isDirectory()
          ? { path: child, is_dir: true }
          : { path: child, is_dir: false, file_size: stat.size },
      ];
    });
  return { root_uri: run.artifact_uri, files };
}
