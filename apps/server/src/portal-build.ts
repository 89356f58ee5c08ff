import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-paths.ts';

/** Where the portal's sources and build live in the repository. */
export const webDir = join(repoRoot, 'apps/web');
export const webRoot = join(webDir, 'dist');

/** Builds the portal with Vite when no build is there yet (a fresh clone), so `aicloud up` serves it. */
export async function ensurePortalBuilt(log: (line: string) => void): Promise<string | null> {
  if (existsSync(join(webRoot, 'index.html'))) return webRoot;
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    log('portal: not built and Vite is not installed (npm ci installs it); the API still runs');
    return null;
  }
  log('portal: building it once with Vite (a few seconds)…');
  await vite.build({ root: webDir, configFile: join(webDir, 'vite.config.ts'), logLevel: 'warn' });
  return webRoot;
}
