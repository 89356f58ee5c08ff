import {
  type AddMemberRequest,
  type Approval,
  type AttestDatasetRequest,
  type AuditQuery,
  type Bill,
  type BillQuery,
  type BillRowsQuery,
  type ContractRoute,
  type CreateKeyRequest,
  type CreateNotebookRequest,
  type CreatePipelineRequest,
  type CreatePolicyExceptionRequest,
  type CreateTokenRequest,
  type DeployModelRequest,
  ErrorBody,
  type JobQuery,
  type NotebookQuery,
  type PathParams,
  type RegisterDatasetRequest,
  type RegisterModelRequest,
  type RegisterProviderRequest,
  type RouteBodyInput,
  type RouteQueryInput,
  type RouteResponse,
  routes,
  type SubmitJobRequest,
  type TeamsBill,
  type TeamsBillQuery,
} from '@aicloud/contracts';
import { ApiError } from './api-error.ts';

/** Where the API is and who calls it. */
export interface ClientOptions {
  url: string;
  token: string;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;

/** What calling a contract route takes: its path parameters, body and query, each where the route has one. */
type CallInput<Route extends ContractRoute> = ([keyof PathParams<Route['path']>] extends [never]
  ? { params?: undefined }
  : { params: PathParams<Route['path']> }) &
  (RouteBodyInput<Route> extends undefined ? { body?: undefined } : { body: RouteBodyInput<Route> }) &
  (RouteQueryInput<Route> extends undefined ? { query?: undefined } : { query?: RouteQueryInput<Route> });

/** The input argument: optional where a route needs none. */
type CallArguments<Route extends ContractRoute> =
  object extends CallInput<Route> ? [input?: CallInput<Route>] : [input: CallInput<Route>];

function toQueryString(query: Query | undefined): string {
  if (!query) return '';
  const entries = Object.entries(query).filter(
    (entry): entry is [string, string | number | boolean] => entry[1] !== undefined,
  );
  return entries.length > 0
    ? `?${new URLSearchParams(entries.map(([key, value]) => [key, String(value)])).toString()}`
    : '';
}

/** A contract path with its parameters filled in, each encoded (a trailing `*` keeps its slashes). */
export function fillPath(path: string, params: Record<string, string> | undefined): string {
  return path.replace(/:([A-Za-z]+)|\*$/g, (_match, name: string | undefined) => {
    const value = params?.[name ?? '*'];
    if (value === undefined) throw new ApiError('invalid_input', `${path} needs ${name ?? '*'}`, 0);
    return name ? encodeURIComponent(value) : value.split('/').map(encodeURIComponent).join('/');
  });
}

/** The API's answer checked against the route's response schema; a mismatch is the server's fault. */
function validated<Route extends ContractRoute>(
  route: Route,
  payload: unknown,
  status: number,
): RouteResponse<Route> {
  const parsed = route.response.safeParse(payload);
  if (parsed.success) return parsed.data as RouteResponse<Route>;
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
  throw new ApiError(
    'internal',
    `${route.method} ${route.path} answered ${status} with a body its contract does not allow (${issues})`,
    status,
  );
}

/** The typed HTTP client of the `/v1` API, derived from the contract's routes; shared by the CLI, the portal and the SDK. */
export function createClient(options: ClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;

  async function send(method: string, path: string, body?: unknown, query?: Query): Promise<Response> {
    try {
      return await doFetch(`${base}${path}${toQueryString(query)}`, {
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
  }

  /** The API's error, from its error body or, lacking one, from the status. */
  function apiError(response: Response, payload: unknown, path: string): ApiError {
    const parsed = ErrorBody.safeParse(payload);
    if (parsed.success)
      return new ApiError(
        parsed.data.error.code,
        parsed.data.error.message,
        response.status,
        parsed.data.error,
      );
    return new ApiError(
      response.status >= 500 ? 'internal' : 'invalid_input',
      `HTTP ${response.status} from ${base}${path}`,
      response.status,
    );
  }

  /** Any request, unvalidated: for paths outside the contract. */
  async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const response = await send(method, path, body, query);
    const text = await response.text();
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      payload = undefined;
    }
    if (!response.ok) throw apiError(response, payload, path);
    return payload as T;
  }

  /** Calls a contract route and validates its answer with the route's response schema. */
  async function call<Route extends ContractRoute>(
    route: Route,
    ...[input]: CallArguments<Route>
  ): Promise<RouteResponse<Route>> {
    const { params, body, query } = (input ?? {}) as {
      params?: Record<string, string>;
      body?: unknown;
      query?: Query;
    };
    const response = await send(route.method, fillPath(route.path, params), body, query);
    const text = await response.text();
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      payload = undefined;
    }
    if (!response.ok) throw apiError(response, payload, route.path);
    return validated(route, payload, response.status);
  }

  /** Calls a contract route that answers text (a log, csv) and yields it as it arrives. */
  async function* stream<Route extends ContractRoute>(
    route: Route,
    ...[input]: CallArguments<Route>
  ): AsyncGenerator<string> {
    const { params, query } = (input ?? {}) as { params?: Record<string, string>; query?: Query };
    const path = fillPath(route.path, params);
    const response = await send(route.method, path, undefined, query);
    if (!response.ok || !response.body) {
      const error = apiError(response, await response.json().catch(() => undefined), path);
      throw error.body ? error : new ApiError('internal', error.message, response.status);
    }
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield decoder.decode(value, { stream: true });
    }
  }

  /** The JSON form of a route that may also answer csv: asked without `format`, a string is a broken promise. */
  function json<T>(route: ContractRoute, answer: T | string): T {
    if (typeof answer === 'string')
      throw new ApiError('internal', `${route.method} ${route.path} answered text where JSON was asked`, 200);
    return answer;
  }

  async function text(chunks: AsyncGenerator<string>): Promise<string> {
    let all = '';
    for await (const chunk of chunks) all += chunk;
    return all;
  }

  return {
    request,
    call,
    whoami: () => call(routes.whoami),
    teams: {
      list: () => call(routes.listTeams),
      get: (name: string) => call(routes.getTeam, { params: { team: name } }),
      create: (name: string) => call(routes.createTeam, { body: { name } }),
      addMember: (team: string, member: AddMemberRequest) =>
        call(routes.addTeamMember, { params: { team }, body: member }),
    },
    tokens: {
      list: () => call(routes.listTokens),
      create: (token: CreateTokenRequest) => call(routes.createToken, { body: token }),
      revoke: (id: string) => call(routes.revokeToken, { params: { id } }),
    },
    catalog: {
      list: () => call(routes.listProducts),
      get: (name: string) => call(routes.getProduct, { params: { name } }),
    },
    datasets: {
      list: () => call(routes.listDatasets),
      get: (path: string) => call(routes.getDataset, { params: { '*': path } }),
      register: (dataset: RegisterDatasetRequest) => call(routes.registerDataset, { body: dataset }),
      attest: (attestation: AttestDatasetRequest) => call(routes.attestDataset, { body: attestation }),
    },
    jobs: {
      submit: (job: SubmitJobRequest) => call(routes.submitJob, { body: job }),
      list: (query: Partial<JobQuery> = {}) => call(routes.listJobs, { query }),
      get: (id: string) => call(routes.getJob, { params: { id } }),
      cancel: (id: string) => call(routes.cancelJob, { params: { id } }),
      decision: (id: string) => call(routes.getJobDecision, { params: { id } }),
      metrics: (id: string) => call(routes.getJobMetrics, { params: { id } }),
      reportMetrics: (id: string, metrics: Record<string, number>, step?: number) =>
        call(routes.reportJobMetrics, {
          params: { id },
          body: { metrics, ...(step === undefined ? {} : { step }) },
        }),
      /** The job's log as it arrives; with `follow` the stream ends when the job does. */
      logs: (id: string, options: { follow?: boolean; offset?: number } = {}) =>
        stream(routes.getJobLogs, {
          params: { id },
          query: { follow: options.follow ? 'true' : undefined, offset: options.offset },
        }),
    },
    notebooks: {
      create: (notebook: CreateNotebookRequest) => call(routes.createNotebook, { body: notebook }),
      list: (query: Partial<NotebookQuery> = {}) => call(routes.listNotebooks, { query }),
      get: (id: string) => call(routes.getNotebook, { params: { id } }),
      stop: (id: string) => call(routes.stopNotebook, { params: { id } }),
      snooze: (id: string) => call(routes.snoozeNotebook, { params: { id } }),
      /** A one-time login URL for the browser (valid 60 s). */
      loginUrl: (id: string) => call(routes.createNotebookLoginUrl, { params: { id } }),
    },
    pipelines: {
      create: (pipeline: CreatePipelineRequest) => call(routes.createPipeline, { body: pipeline }),
      list: (team?: string) => call(routes.listPipelines, { query: { team } }),
      get: (id: string) => call(routes.getPipeline, { params: { id } }),
      cancel: (id: string) => call(routes.cancelPipeline, { params: { id } }),
      retry: (id: string) => call(routes.retryPipeline, { params: { id } }),
    },
    approvals: {
      list: (status?: Approval['status']) => call(routes.listApprovals, { query: { status } }),
      approve: (id: string, reason?: string) =>
        call(routes.approve, { params: { id }, body: reason ? { reason } : {} }),
      deny: (id: string, reason?: string) =>
        call(routes.deny, { params: { id }, body: reason ? { reason } : {} }),
    },
    policy: {
      list: () => call(routes.listPolicies),
      exceptions: () => call(routes.listPolicyExceptions),
      grantException: (exception: CreatePolicyExceptionRequest) =>
        call(routes.grantPolicyException, { body: exception }),
    },
    secrets: {
      list: (team: string) => call(routes.listSecrets, { params: { team } }),
      set: (team: string, name: string, value: string) =>
        call(routes.setSecret, { params: { team, name }, body: { value } }),
      delete: (team: string, name: string) => call(routes.deleteSecret, { params: { team, name } }),
    },
    endpoints: {
      deploy: (deployment: DeployModelRequest) => call(routes.deployModel, { body: deployment }),
      list: () => call(routes.listEndpoints),
      get: (name: string) => call(routes.getEndpoint, { params: { name } }),
      scale: (name: string, scale: { minReplicas?: number; maxReplicas?: number }) =>
        call(routes.scaleEndpoint, { params: { name }, body: scale }),
      delete: (name: string) => call(routes.deleteEndpoint, { params: { name } }),
      rollout: (name: string) => call(routes.getRollout, { params: { name } }),
      promote: (name: string) => call(routes.promoteRollout, { params: { name } }),
      abort: (name: string) => call(routes.abortRollout, { params: { name } }),
    },
    keys: {
      create: (key: CreateKeyRequest) => call(routes.createKey, { body: key }),
      list: (endpoint?: string) => call(routes.listKeys, { query: { endpoint } }),
      revoke: (id: string) => call(routes.revokeKey, { params: { id } }),
    },
    budgets: {
      show: (team: string) => call(routes.getBudget, { params: { team } }),
      set: (
        team: string,
        budget: {
          maxBudget: number;
          softBudget?: number | null;
          budgetDuration?: string;
          ceiling?: number | null;
        },
      ) => call(routes.setBudget, { params: { team }, body: budget }),
    },
    models: {
      list: (team?: string) => call(routes.listModels, { query: { team } }),
      register: (model: RegisterModelRequest) => call(routes.registerModel, { body: model }),
      show: (name: string, team?: string) => call(routes.getModel, { params: { name }, query: { team } }),
      versions: (name: string, team?: string) =>
        call(routes.listModelVersions, { params: { name }, query: { team } }),
      version: (name: string, version: number | string, team?: string) =>
        call(routes.getModelVersion, { params: { name, version: String(version) }, query: { team } }),
      setAlias: (name: string, alias: string, version: number, team?: string) =>
        call(routes.setModelAlias, { params: { name, alias }, body: { version }, query: { team } }),
      /** The chain dataset → job → model version → endpoints; `version` is a number or an alias. */
      lineage: (name: string, version: number | string, team?: string) =>
        call(routes.getModelLineage, { params: { name, version: String(version) }, query: { team } }),
    },
    bill: {
      /** A team's bill (or every team you see): totals, breakdown, budget, forecast. */
      get: async (query: Omit<BillQuery, 'format'> = {}): Promise<Bill> =>
        json(routes.getBill, await call(routes.getBill, { query })),
      /** The same bill as csv text for finance. */
      csv: (query: Omit<BillQuery, 'format'> = {}) => text(stream(routes.getBillCsv, { query })),
      /** Every team side by side. */
      teams: async (query: TeamsBillQuery = {}): Promise<TeamsBill> =>
        json(routes.getTeamsBill, await call(routes.getTeamsBill, { query })),
      teamsCsv: (query: TeamsBillQuery = {}) =>
        text(stream(routes.getTeamsBill, { query: { ...query, format: 'csv' } })),
      /** The ledger rows behind a bill line. */
      rows: (query: BillRowsQuery) => call(routes.listBillRows, { query }),
      alerts: (team: string) => call(routes.listBudgetAlerts, { params: { team } }),
    },
    providers: {
      /** External providers: platform-admins see base URLs and key secret names, members names and models. */
      list: () => call(routes.listProviders),
      register: (provider: RegisterProviderRequest) => call(routes.registerProvider, { body: provider }),
      remove: (name: string) => call(routes.deleteProvider, { params: { name } }),
    },
    audit: {
      list: (query: Partial<AuditQuery> = {}) => call(routes.listAudit, { query }),
      verify: () => call(routes.verifyAudit),
    },
  };
}

/** The client's type. */
export type Client = ReturnType<typeof createClient>;
