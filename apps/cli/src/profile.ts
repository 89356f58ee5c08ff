import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeSecretFile } from './secret-file.ts';

/** A saved login. */
export interface Profile {
  url: string;
  token: string;
}

/** The folder where the CLI keeps its profile (`$AICLOUD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/aicloud`, else `~/.config/aicloud`). */
export function configDir(): string {
  if (process.env.AICLOUD_CONFIG_DIR) return process.env.AICLOUD_CONFIG_DIR;
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'aicloud');
}

/** Reads the saved profile, if any. */
export function readProfile(): Profile | null {
  try {
    const parsed = JSON.parse(readFileSync(join(configDir(), 'profile.json'), 'utf8')) as Partial<Profile>;
    return parsed.url && parsed.token ? { url: parsed.url, token: parsed.token } : null;
  } catch {
    return null;
  }
}

/** Saves the profile, readable only by its owner. */
export function saveProfile(profile: Profile): string {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'profile.json');
  writeSecretFile(file, `${JSON.stringify(profile, null, 2)}\n`);
  return file;
}
