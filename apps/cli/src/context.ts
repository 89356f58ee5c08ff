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
