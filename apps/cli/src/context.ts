import { type Client, createClient } from '@aicloud/client';
import { httpFetch } from './http-fetch.ts';
import { CliError, UsageError } from './output.ts';
import { configDir, readProfile } from './profile.ts';

/** Where a token came from: the environment, the saved login, or `login --token`. */
export type TokenSource = 'environment' | 'profile' | 'flag';

/** What to say when the server refuses a token, naming where it came from. */
function refusedToken(source: TokenSource): string {
  switch (source) {
    case 'environment':
      return 'the token in AICLOUD_TOKEN was refused (unknown, revoked or expired): set AICLOUD_TOKEN to a valid token, or unset it to use the login saved by `aicloud login --url URL --token TOKEN`';
    case 'profile':
      return `the token saved by \`aicloud login\` (${configDir()}/profile.json) was refused (unknown, revoked or expired): sign in again with \`aicloud login --url URL --token TOKEN\``;
    default:
      return 'the token given with --token was refused (unknown, revoked or expired): ask for a new one (`aicloud tokens create NAME` where you are signed in, or your platform-admin)';
  }
}

/** A fetch that rewrites the server's 401 message to name where the refused token came from. */
function namingTokenSource(source: TokenSource): typeof fetch {
  return async (input, init) => {
    const response = await httpFetch(input, init);
    if (response.status !== 401) return response;
    const body = (await response.json().catch(() => undefined)) as
      | { error?: { code?: string; message?: string } }
      | undefined;
    if (body?.error?.code !== 'unauthenticated') return response;
    body.error.message = refusedToken(source);
    return new Response(JSON.stringify(body), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** The API client for this invocation: `AICLOUD_URL`/`AICLOUD_TOKEN` override the saved profile. */
export function client(): Client {
  const profile = readProfile();
  const url = process.env.AICLOUD_URL || profile?.url;
  const token = process.env.AICLOUD_TOKEN || profile?.token;
  if (!url || !token) {
    throw new CliError(
      'not signed in: run `aicloud login --url URL --token TOKEN` (or set AICLOUD_URL and AICLOUD_TOKEN)',
      'unauthenticated',
    );
  }
  return clientFor(url, token, process.env.AICLOUD_TOKEN ? 'environment' : 'profile');
}

/** A client whose refused-token errors name where the token came from. */
export function clientFor(url: string, token: string, source: TokenSource): Client {
  return createClient({ url, token, fetch: namingTokenSource(source) });
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
