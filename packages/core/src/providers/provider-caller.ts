import type { Selectable } from 'kysely';
import { AppError } from '../app-error.ts';
import type { IdentityService } from '../identity/identity-service.ts';
import type { TeamRole } from '../ports/authorizer.ts';
import { hashKey } from '../serving/endpoint-service.ts';
import { OpenAIError } from '../serving/openai-error.ts';
import type { Store } from '../store/open-store.ts';
import type { Database } from '../store/schema.ts';

/** Who calls an external provider: a team's endpoint key, or a job's run token (with the job's datasets). */
export interface ProviderCaller {
  team: string;
  /** The user the usage is billed to: the key's creator, or the job's owner. */
  user: string;
  role: TeamRole;
  platformAdmin: boolean;
  /** The key, when a key calls: its period quota applies. */
  key: Selectable<Database['endpoint_keys']> | null;
  /** The job whose run token calls, if one does. */
  jobId: string | null;
  /** Datasets the caller carries implicitly: those its job mounted. */
  datasets: string[];
}

const unauthenticated = (message: string) =>
  new OpenAIError(401, message, 'invalid_request_error', 'invalid_api_key');

/** Resolves the bearer of a request to a provider: an endpoint key (`sk-aic-…`) or a job's run token. */
export async function authenticateProviderCaller(
  deps: { store: Store; identity: IdentityService },
  authorization: string | undefined,
): Promise<ProviderCaller> {
  const secret = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!secret) throw unauthenticated("You didn't provide an API key: send 'Authorization: Bearer <key>'.");
  const db = deps.store.db;
  if (secret.startsWith('sk-aic-')) {
    const key = await db
      .selectFrom('endpoint_keys')
      .selectAll()
      .where('hash', '=', hashKey(secret))
      .executeTakeFirst();
    const endpoint =
      key &&
      (await db
        .selectFrom('endpoints')
        .select('status')
        .where('id', '=', key.endpoint_id)
        .executeTakeFirst());
    if (!key || key.revoked_at || !endpoint || endpoint.status === 'deleted')
      throw unauthenticated(
        'Incorrect API key provided. Create one with: aicloud keys create --endpoint NAME',
      );
    return {
      team: key.team,
      user: key.created_by,
      role: 'member',
      platformAdmin: false,
      key,
      jobId: null,
      datasets: [],
    };
  }
  let principal: Awaited<ReturnType<IdentityService['authenticate']>>;
  try {
    principal = await deps.identity.authenticate(secret);
  } catch (error) {
    if (error instanceof AppError) throw unauthenticated('Incorrect API key provided.');
    throw error;
  }
  const jobId = principal.scope?.startsWith('job:') ? principal.scope.slice(4) : null;
  if (!jobId)
    throw new OpenAIError(
      403,
      "External providers are called with a team's endpoint key (aicloud keys create --endpoint NAME) or from a job with its run token.",
      'invalid_request_error',
      'unsupported_credentials',
    );
  const job = await db
    .selectFrom('jobs')
    .select(['team', 'owner', 'datasets', 'status'])
    .where('id', '=', jobId)
    .executeTakeFirst();
  if (!job) throw unauthenticated('Incorrect API key provided.');
  return {
    team: job.team,
    user: job.owner,
    role: principal.teams.get(job.team) ?? 'none',
    platformAdmin: principal.platformAdmin,
    key: null,
    jobId,
    datasets: JSON.parse(job.datasets) as string[],
  };
}

/** Splits the `x-aicloud-datasets` header (dataset paths separated by commas or spaces). */
export function datasetsHeader(value: string | string[] | undefined): string[] {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  const refs = text.split(/[\s,]+/).filter((ref) => ref.length > 0);
  if (refs.length > 64 || refs.some((ref) => ref.length > 512))
    throw new OpenAIError(
      400,
      'x-aicloud-datasets names at most 64 datasets, each at most 512 characters',
      'invalid_request_error',
      'invalid_datasets_header',
    );
  return refs;
}

/**
 * Sorts the datasets a request carries as the policy reads them: restricted (attested confidential or pii)
 * and unverified (not registered to the caller's team, or without an attested classification). Another
 * team's dataset is only ever "unverified": its classification is not the caller's to learn.
 */
export async function classifyCarried(
  store: Store,
  team: string,
  refs: readonly string[],
): Promise<{ restricted: string[]; unverified: string[] }> {
  const unique = [...new Set(refs)];
  if (unique.length === 0) return { restricted: [], unverified: [] };
  const rows = await store.db
    .selectFrom('datasets')
    .select(['path', 'team', 'classification'])
    .where('path', 'in', unique)
    .execute();
  const byPath = new Map(rows.map((row) => [row.path, row]));
  const restricted: string[] = [];
  const unverified: string[] = [];
  for (const ref of unique) {
    const row = byPath.get(ref);
    if (!row || row.team !== team || !row.classification) unverified.push(ref);
    else if (row.classification === 'confidential' || row.classification === 'pii') restricted.push(ref);
  }
  return { restricted, unverified };
}
