import type {
  AddMemberRequest,
  Admission,
  Approval,
  AttestDatasetRequest,
  AuditQuery,
  AuditRecord,
  AuditVerifyResult,
  Bill,
  BillQuery,
  BillRowsQuery,
  Budget,
  BudgetAlert,
  CreatedKey,
  CreatedToken,
  CreateKeyRequest,
  CreateNotebookRequest,
  CreatePolicyExceptionRequest,
  CreateTokenRequest,
  Dataset,
  DeployModelRequest,
  Endpoint,
  EndpointKey,
  Job,
  JobDecision,
  JobMetrics,
  JobQuery,
  LedgerRow,
  Model,
  ModelDetail,
  ModelLineage,
  ModelVersion,
  Notebook,
  NotebookLoginUrl,
  NotebookQuery,
  PolicyException,
  Product,
  RegisterDatasetRequest,
  RegisterModelRequest,
  SecretInfo,
  SubmitJobRequest,
  SubmitJobResponse,
  Team,
  TeamsBill,
  TeamsBillQuery,
  TokenInfo,
  WhoAmI,
} from '@aicloud/contracts';
import { ApiError } from './api-error.ts';

/** Where the API is and who calls it. */
export interface ClientOptions {
  url: string;
  token: string;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;

/**
 * The API's error body, if `payload` is one. The schemas (zod) are imported here, when an answer is an error,
 * so a CLI call that succeeds never loads them (docs/decisions/2026-12-04-cli-startup.md).
 */
async function parseErrorBody(payload: unknown) {
  const { ErrorBody } = await import('@aicloud/contracts');
  return ErrorBody.safeParse(payload);
}

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
      const parsed = await parseErrorBody(payload);
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

  async function* stream(path: string, query?: Query): AsyncGenerator<string> {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}${toQueryString(query)}`, {
        headers: { authorization: `Bearer ${options.token}` },
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ApiError(
        'unavailable',
        `cannot reach aicloud at ${base}: ${cause}; is \`aicloud up\` running?`,
        0,
      );
    }
    if (!response.ok || !response.body) {
      const parsed = await parseErrorBody(await response.json().catch(() => undefined));
      if (parsed.success)
        throw new ApiError(
          parsed.data.error.code,
          parsed.data.error.message,
          response.status,
          parsed.data.error,
        );
      throw new ApiError('internal', `HTTP ${response.status} from ${base}${path}`, response.status);
    }
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield decoder.decode(value, { stream: true });
    }
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
    catalog: {
      list: () => request<{ items: Product[] }>('GET', '/v1/catalog'),
      get: (name: string) => request<Product>('GET', `/v1/catalog/${encodeURIComponent(name)}`),
    },
    datasets: {
      list: () => request<{ items: Dataset[] }>('GET', '/v1/datasets'),
      get: (path: string) =>
        request<Dataset>('GET', `/v1/datasets/${path.split('/').map(encodeURIComponent).join('/')}`),
      register: (dataset: RegisterDatasetRequest) => request<Dataset>('POST', '/v1/datasets', dataset),
      attest: (attestation: AttestDatasetRequest) =>
        request<Dataset>('POST', '/v1/datasets/attestations', attestation),
    },
    jobs: {
      submit: (job: SubmitJobRequest) => request<SubmitJobResponse>('POST', '/v1/jobs', job),
      list: (query: Partial<JobQuery> = {}) => request<{ items: Job[] }>('GET', '/v1/jobs', undefined, query),
      get: (id: string) => request<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`),
      cancel: (id: string) => request<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`),
      decision: (id: string) => request<JobDecision>('GET', `/v1/jobs/${encodeURIComponent(id)}/decision`),
      metrics: (id: string) => request<JobMetrics>('GET', `/v1/jobs/${encodeURIComponent(id)}/metrics`),
      reportMetrics: (id: string, metrics: Record<string, number>, step?: number) =>
        request<{ accepted: number }>('POST', `/v1/jobs/${encodeURIComponent(id)}/metrics`, {
          metrics,
          ...(step === undefined ? {} : { step }),
        }),
      /** The job's log as it arrives; with `follow` the stream ends when the job does. */
      logs: (id: string, options: { follow?: boolean; offset?: number } = {}) =>
        stream(`/v1/jobs/${encodeURIComponent(id)}/logs`, {
          follow: options.follow ? 'true' : undefined,
          offset: options.offset,
        }),
    },
    notebooks: {
      create: (notebook: CreateNotebookRequest) => request<Notebook>('POST', '/v1/notebooks', notebook),
      list: (query: Partial<NotebookQuery> = {}) =>
        request<{ items: Notebook[] }>('GET', '/v1/notebooks', undefined, query),
      get: (id: string) => request<Notebook>('GET', `/v1/notebooks/${encodeURIComponent(id)}`),
      stop: (id: string) => request<Notebook>('POST', `/v1/notebooks/${encodeURIComponent(id)}/stop`),
      snooze: (id: string) => request<Notebook>('POST', `/v1/notebooks/${encodeURIComponent(id)}/snooze`),
      /** A one-time login URL for the browser (valid 60 s). */
      loginUrl: (id: string) =>
        request<NotebookLoginUrl>('POST', `/v1/notebooks/${encodeURIComponent(id)}/login-url`),
    },
    approvals: {
      list: (status?: Approval['status']) =>
        request<{ items: Approval[] }>('GET', '/v1/approvals', undefined, { status }),
      approve: (id: string, reason?: string) =>
        request<{ approval: Approval; admission: Admission }>(
          'POST',
          `/v1/approvals/${encodeURIComponent(id)}/approve`,
          reason ? { reason } : {},
        ),
      deny: (id: string, reason?: string) =>
        request<Approval>('POST', `/v1/approvals/${encodeURIComponent(id)}/deny`, reason ? { reason } : {}),
    },
    policy: {
      list: () => request<{ digest: string; items: Record<string, string>[] }>('GET', '/v1/policies'),
      exceptions: () => request<{ items: PolicyException[] }>('GET', '/v1/policy/exceptions'),
      grantException: (exception: CreatePolicyExceptionRequest) =>
        request<PolicyException>('POST', '/v1/policy/exceptions', exception),
    },
    secrets: {
      list: (team: string) =>
        request<{ items: SecretInfo[] }>('GET', `/v1/teams/${encodeURIComponent(team)}/secrets`),
      set: (team: string, name: string, value: string) =>
        request<SecretInfo>(
          'PUT',
          `/v1/teams/${encodeURIComponent(team)}/secrets/${encodeURIComponent(name)}`,
          { value },
        ),
      delete: (team: string, name: string) =>
        request<{ deleted: true }>(
          'DELETE',
          `/v1/teams/${encodeURIComponent(team)}/secrets/${encodeURIComponent(name)}`,
        ),
    },
    endpoints: {
      deploy: (deployment: DeployModelRequest) => request<Endpoint>('POST', '/v1/endpoints', deployment),
      list: () => request<{ items: Endpoint[] }>('GET', '/v1/endpoints'),
      get: (name: string) => request<Endpoint>('GET', `/v1/endpoints/${encodeURIComponent(name)}`),
      scale: (name: string, scale: { minReplicas?: number; maxReplicas?: number }) =>
        request<Endpoint>('POST', `/v1/endpoints/${encodeURIComponent(name)}/scale`, scale),
      delete: (name: string) => request<Endpoint>('DELETE', `/v1/endpoints/${encodeURIComponent(name)}`),
    },
    keys: {
      create: (key: CreateKeyRequest) => request<CreatedKey>('POST', '/v1/keys', key),
      list: (endpoint?: string) =>
        request<{ items: EndpointKey[] }>('GET', '/v1/keys', undefined, { endpoint }),
      revoke: (id: string) => request<EndpointKey>('DELETE', `/v1/keys/${encodeURIComponent(id)}`),
    },
    budgets: {
      show: (team: string) =>
        request<{ budget: Budget | null }>('GET', `/v1/budgets/${encodeURIComponent(team)}`),
      set: (
        team: string,
        budget: {
          maxBudget: number;
          softBudget?: number | null;
          budgetDuration?: string;
          ceiling?: number | null;
        },
      ) => request<Budget>('PUT', `/v1/budgets/${encodeURIComponent(team)}`, budget),
    },
    models: {
      list: (team?: string) => request<{ items: Model[] }>('GET', '/v1/models', undefined, { team }),
      register: (model: RegisterModelRequest) => request<ModelVersion>('POST', '/v1/models', model),
      show: (name: string, team?: string) =>
        request<ModelDetail>('GET', `/v1/models/${encodeURIComponent(name)}`, undefined, { team }),
      versions: (name: string, team?: string) =>
        request<{ items: ModelVersion[] }>(
          'GET',
          `/v1/models/${encodeURIComponent(name)}/versions`,
          undefined,
          {
            team,
          },
        ),
      version: (name: string, version: number | string, team?: string) =>
        request<ModelVersion>(
          'GET',
          `/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(String(version))}`,
          undefined,
          { team },
        ),
      setAlias: (name: string, alias: string, version: number, team?: string) =>
        request<Model>(
          'PUT',
          `/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
          { version },
          { team },
        ),
      /** The chain dataset → job → model version → endpoints; `version` is a number or an alias. */
      lineage: (name: string, version: number | string, team?: string) =>
        request<ModelLineage>(
          'GET',
          `/v1/lineage/models/${encodeURIComponent(name)}/${encodeURIComponent(String(version))}`,
          undefined,
          { team },
        ),
    },
    bill: {
      /** A team's bill (or every team you see): totals, breakdown, budget, forecast. */
      get: (query: Omit<BillQuery, 'format'> = {}) => request<Bill>('GET', '/v1/bill', undefined, query),
      /** The same bill as csv text for finance. */
      csv: async (query: Omit<BillQuery, 'format'> = {}) => {
        let text = '';
        for await (const chunk of stream('/v1/bill.csv', query)) text += chunk;
        return text;
      },
      /** Every team side by side. */
      teams: (query: TeamsBillQuery = {}) => request<TeamsBill>('GET', '/v1/bill/teams', undefined, query),
      teamsCsv: async (query: TeamsBillQuery = {}) => {
        let text = '';
        for await (const chunk of stream('/v1/bill/teams', { ...query, format: 'csv' })) text += chunk;
        return text;
      },
      /** The ledger rows behind a bill line. */
      rows: (query: BillRowsQuery) =>
        request<{ items: LedgerRow[] }>('GET', '/v1/bill/rows', undefined, query),
      alerts: (team: string) =>
        request<{ items: BudgetAlert[] }>('GET', `/v1/budgets/${encodeURIComponent(team)}/alerts`),
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
