import { type Client, createClient } from '@aicloud/client';
import { UsageError } from './output.ts';
import { readProfile } from './profile.ts';

/** The API client for this invocation: `AICLOUD_URL`/`AICLOUD_TOKEN` override the saved profile. */
export function client(): Client {
  const profile = readProfile();
  const url = process.env.AICLOUD_URL || profile?.url;
  const token = process.env.AICLOUD_TOKEN || profile?.token;
  if (!url || !token) {
    throw new UsageError(
      'not signed in: run `aicloud login --url URL --token TOKEN` (or set AICLOUD_URL and AICLOUD_TOKEN)',
    );
  }
  return createClient({ url, token });
}

/** The team to act for: the one given, else the caller's only team. */
export async function teamOf(team: string | undefined): Promise<string> {
  if (team) return team;
  const me = await client().whoami();
  if (me.memberships.length === 1) return me.memberships[0]!.team;
  throw new UsageError(
    `pass --team (you are in ${me.memberships.map((membership) => membership.team).join(', ') || 'no team'})`,
  );
}
