import { realpathSync } from 'node:fs';
import { posix } from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../app-error.ts';
import type { Database } from '../store/schema.ts';

/** The rule names dataset registration refuses with (in messages and in `details.rule`). */
export const LOCATION_RULES = {
  canonical: 'dataset-location-canonical',
  teamPrefix: 'dataset-location-team-prefix',
  platformDir: 'dataset-location-platform-dir',
} as const;

type Db = Kysely<Database> | Transaction<Database>;

async function setting(db: Db, key: string): Promise<string[]> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row ? (JSON.parse(row.value) as string[]) : [];
}

/** The approved data lake: location prefixes (URIs) that platform configuration trusts. */
export function approvedLocations(db: Db): Promise<string[]> {
  return setting(db, 'approved_locations');
}

/** Location prefixes the platform knows to be encrypted at rest: data there is encrypted as a fact. */
export function encryptedLocations(db: Db): Promise<string[]> {
  return setting(db, 'encrypted_locations');
}

const URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)([?#].*)?$/;

function invalid(location: string, why: string): AppError {
  return new AppError(
    'invalid_input',
    `location '${location}' is not valid (rule ${LOCATION_RULES.canonical}): ${why}; write file:///absolute/path or scheme://bucket/path`,
    {
      issues: [{ path: ['location'], message: why }],
      details: { rule: LOCATION_RULES.canonical },
    },
  );
}

/** The real path of `path`: its longest existing ancestor resolved through links, the rest appended. */
function realpathExisting(path: string): string {
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      return posix.join(realpathSync(current), ...rest.reverse());
    } catch {
      if (current === '/') return path;
      rest.push(posix.basename(current));
      current = posix.dirname(current);
    }
  }
}

/**
 * The one form a location is compared and used in: percent-decoded, `.` and `..` resolved, and for local
 * files (`file://` or an absolute path) resolved through links as far as it exists. Throws invalid_input
 * for what cannot be read unambiguously (no scheme, a query, a host in a file URI, double encoding).
 */
export function canonicalLocation(location: string): string {
  const uri = location.startsWith('/') ? `file://${location}` : location;
  const match = URI.exec(uri);
  if (!match) throw invalid(location, 'not an absolute path or a URI with a scheme');
  const scheme = match[1]!.toLowerCase();
  const authority = match[2]!;
  if (match[4]) throw invalid(location, 'a location cannot carry a query or a fragment');
  let path: string;
  try {
    path = decodeURIComponent(match[3]! || '/');
  } catch {
    throw invalid(location, 'broken percent-encoding');
  }
  if (/%[0-9A-Fa-f]{2}/.test(path)) throw invalid(location, 'percent-encoding inside percent-encoding');
  if (path.includes('\0')) throw invalid(location, 'a NUL byte');
  path = posix.normalize(`/${path}`);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (scheme === 'file') {
    if (authority !== '' && authority.toLowerCase() !== 'localhost')
      throw invalid(location, `a file URI names host '${authority}'`);
    return `file://${realpathExisting(path)}`;
  }
  return `${scheme}://${authority}${path}`;
}

/** The canonical form, or null when the location cannot be read (an old row, a bad prefix). */
function tryCanonical(location: string): string | null {
  try {
    return canonicalLocation(location);
  } catch {
    return null;
  }
}

/** Whether `location` is `prefix` or lies below it (whole path segments). */
function under(location: string, prefix: string): boolean {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return location === prefix || location === base.slice(0, -1) || location.startsWith(base);
}

/** Where a location lies in the lake: the lake prefix and the team segment after it (null at the top). */
export function lakePlace(
  location: string,
  approved: string[],
): { canonical: string; lake: string | null; team: string | null } | null {
  const canonical = tryCanonical(location);
  if (canonical === null) return null;
  for (const prefix of approved) {
    const lake = tryCanonical(prefix);
    if (lake === null || !under(canonical, lake)) continue;
    const rest = canonical.slice(lake.length).replace(/^\/+/, '');
    return { canonical, lake, team: rest === '' ? null : rest.split('/')[0]! };
  }
  return { canonical, lake: null, team: null };
}

/**
 * Whether a location lies inside the approved lake, compared canonically. With a team, it must lie in that
 * team's own part of the lake (`<lake>/<team>/…`).
 */
export function inApprovedLocation(location: string, approved: string[], team?: string): boolean {
  const place = lakePlace(location, approved);
  if (!place?.lake) return false;
  return team === undefined || place.team === team;
}

/** Whether a location lies under a prefix the platform knows to be encrypted, compared canonically. */
export function inEncryptedLocation(location: string, encrypted: string[]): boolean {
  const canonical = tryCanonical(location);
  if (canonical === null) return false;
  return encrypted.some((prefix) => {
    const root = tryCanonical(prefix);
    return root !== null && under(canonical, root);
  });
}
