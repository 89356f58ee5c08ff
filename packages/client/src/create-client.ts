import {
  type AddMemberRequest,
  type AuditQuery,
  type AuditRecord,
  type AuditVerifyResult,
  type CreatedToken,
  type CreateTokenRequest,
  ErrorBody,
  type Team,
  type TokenInfo,
  type WhoAmI,
} from '@aicloud/contracts';
import { ApiError } from './api-error.ts';

/** Where the API is and who calls it. */
export interface ClientOptions {
  url: string;
  token: string;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;

function toQueryString(query: Query | undefined): string {
  if (!query) return '';
  const entries = Object.entries(query).filter(
    (entry): entry is [string, string | number | boolean] => entry[1] !== undefined,
  );
  return entries.length > 0
    ? `?${new URLSearchParams(entries.map(([key, value]) => [key, String(value)])).toString()}`
    : '';
}

/** The typed HTTP client of the `/v1` API, shared by the CLI, the portal and the SDK. */
export function createClient(options: ClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;

  async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}${toQueryString(query)}`, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ApiError(
        'unavailable',
        `cannot reach aicloud at ${base}: ${cause}; is \`aicloud up\` running?`,
        0,
      );
    }
    const text = await response.text();
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      payload = undefined;
    }
    if (!response.ok) {
      const parsed = ErrorBody.safeParse(payload);
      if (parsed.success)
        throw new ApiError(
          parsed.data.error.code,
          parsed.data.error.message,
          response.status,
          parsed.data.error,
        );
      throw new ApiError(
        response.status >= 500 ? 'internal' : 'invalid_input',
        `HTTP ${response.status} from ${base}${path}`,
        response.status,
      );
    }
    return payload as T;
  }

  return {
    request,
    whoami: () => request<WhoAmI>('GET', '/v1/whoami'),
    teams: {
      list: () => request<{ items: Team[] }>('GET', '/v1/teams'),
      get: (name: string) => request<Team>('GET', `/v1/teams/${encodeURIComponent(name)}`),
      create: (name: string) => request<Team>('POST', '/v1/teams', { name }),
      addMember: (team: string, member: AddMemberRequest) =>
        request<Team>('POST', `/v1/teams/${encodeURIComponent(team)}/members`, member),
    },
    tokens: {
      list: () => request<{ items: TokenInfo[] }>('GET', '/v1/tokens'),
      create: (token: CreateTokenRequest) => request<CreatedToken>('POST', '/v1/tokens', token),
      revoke: (id: string) => request<TokenInfo>('DELETE', `/v1/tokens/${encodeURIComponent(id)}`),
    },
    audit: {
      list: (query: Partial<AuditQuery> = {}) =>
        request<{ items: AuditRecord[] }>('GET', '/v1/audit', undefined, query),
      verify: () => request<AuditVerifyResult>('POST', '/v1/audit/verify'),
    },
  };
}

/** The client's type. */
export type Client = ReturnType<typeof createClient>;
