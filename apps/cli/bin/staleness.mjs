// Whether apps/cli/dist is up to date with the sources it was compiled from (apps/cli/scripts/build.mjs writes
// dist/manifest.json: per part, `cli` and `server`, the sources it holds and a hash of their contents, and the
// time the build started). Kept cheap, since every CLI call asks: one stat per source of the part; only when one
// is newer than the build are the contents hashed, as the build did, so a touched but unchanged file (a
// checkout) still counts as up to date.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Why `part` of dist/ must not run (not built, a source changed or gone), or null when it is up to date. */
export async function staleness(part) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('../dist/manifest.json', import.meta.url), 'utf8'));
  } catch {
    return 'apps/cli/dist is not built: npm run build:cli';
  }
  const sources = manifest.parts?.[part];
  if (!sources) return `apps/cli/dist has no ${part} part: npm run build:cli`;
  let newer = null;
  for (const input of sources.inputs) {
    const stat = statSync(root + input, { throwIfNoEntry: false });
    if (!stat) return `${input} is gone since the build: npm run build:cli`;
    if (stat.mtimeMs > manifest.builtAt) newer ??= input;
  }
  if (newer === null) return null;
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  for (const input of sources.inputs)
    hash
      .update(input)
      .update('\0')
      .update(readFileSync(root + input))
      .update('\0');
  return hash.digest('hex') === sources.hash ? null : `${newer} changed since the build: npm run build:cli`;
}
