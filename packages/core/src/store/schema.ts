/** Tables of the store. Times are ISO 8601 UTC text, booleans 0/1, JSON as text: the same on SQLite and PostgreSQL. */
export interface Database {
  meta: { key: string; value: string };
  users: { id: string; name: string; platform_admin: number; created_at: string };
  teams: { id: string; name: string; created_at: string };
  memberships: { team_id: string; user_id: string; role: string; created_at: string };
  api_tokens: {
    id: string;
    user_id: string;
    name: string;
    prefix: string;
    hash: string;
    scope: string | null;
    created_at: string;
    expires_at: string | null;
    revoked_at: string | null;
    last_used_at: string | null;
  };
  audit_records: {
    seq: number;
    id: string;
    time: string;
    actor: string;
    action: string;
    resource: string;
    team: string | null;
    outcome: string;
    request_id: string | null;
    details: string;
    prev_hash: string;
    hash: string;
  };
  audit_head: { id: number; seq: number; hash: string };
  settings: { key: string; value: string };
  products: { name: string; spec: string; source: string; updated_at: string };
  datasets: {
    path: string;
    team: string;
    /** Canonical: percent-decoded, `.`/`..` resolved, links resolved where it exists. */
    location: string;
    /** A fact: attested by a platform-admin (or the seed); not the registrant's word. */
    encrypted: number;
    /** A fact: attested by a platform-admin (or the seed); null until then. */
    classification: string | null;
    tags: string;
    registered_by: string;
    created_at: string;
    /** JSON { encrypted: boolean, classification: string | null }: what the registrant declared. */
    claimed: string;
    /** Who attested the facts (`system` for the seed); null when nobody has. */
    attested_by: string | null;
    attested_at: string | null;
    /** sha256 over the dataset's files (sorted relative paths and bytes) when last hashed (0014); null before. */
    content_hash?: string | null;
    hashed_at?: string | null;
  };
  gpus: {
    id: string;
    gpu_type: string;
    device_index: number;
    source: string;
    model: string;
    memory_mib: number;
  };
  quotas: { team: string; gpu_type: string; nominal: number };
  budgets: {
    team: string;
    max_budget_micros: number;
    soft_budget_micros: number | null;
    budget_duration: string;
    period_anchor: string;
    ceiling_micros: number | null;
    updated_at: string;
  };
  jobs: {
    id: string;
    name: string;
    team: string;
    owner: string;
    product: string;
    kind: string;
    gpus: number;
    gpu_type: string | null;
    spot: number;
    datasets: string;
    secrets: string;
    command: string;
    executor: string;
    max_runtime_s: number;
    grace_s: number;
    status: string;
    reasons: string;
    decision: string;
    estimate_micros: number;
    reserved_micros: number;
    cost_micros: number;
    approval_id: string | null;
    gpu_indexes: string;
    gpu_source: string | null;
    exit_code: number | null;
    external_id: string | null;
    created_at: string;
    admitted_at: string | null;
    started_at: string | null;
    ended_at: string | null;
    metered_until: string | null;
    /** Micro-dollars per GPU-hour (or instance-hour), fixed at admission; null for jobs admitted before 0010. */
    rate_micros: number | null;
    /** The MLflow experiment of its run (0016); null: the team's own. */
    experiment: string | null;
  };
  approvals: {
    id: string;
    job_id: string;
    team: string;
    requested_by: string;
    approvers: string;
    rules: string;
    status: string;
    decided_by: string | null;
    reason: string | null;
    created_at: string;
    expires_at: string;
    decided_at: string | null;
  };
  policy_exceptions: {
    id: string;
    policy_id: string;
    team: string;
    description: string;
    expires_at: string;
    granted_by: string;
    created_at: string;
  };
  usage_ledger: {
    id: string;
    team: string;
    user_name: string;
    project: string | null;
    category: string;
    resource: string;
    quantity: number;
    unit: string;
    rate_micros: number;
    cost_micros: number;
    source_kind: string;
    source_id: string;
    window_start: string;
    window_end: string;
    created_at: string;
  };
  job_metrics: {
    job_id: string;
    seq: number;
    step: number | null;
    name: string;
    value: number;
    time: string;
  };
  secrets: {
    team: string;
    name: string;
    ciphertext: string;
    created_by: string;
    created_at: string;
    updated_at: string;
  };
  notebooks: {
    /** `nb_…`. */
    id: string;
    name: string;
    team: string;
    owner: string;
    product: string;
    gpus: number;
    gpu_type: string | null;
    /** JSON array of GPU device indexes. */
    gpu_indexes: string;
    /** `blocked` (own network namespace) or `allowed`. */
    egress: string;
    /** `starting`, `running`, `stopping`, `stopped` or `failed`. */
    status: string;
    /** The address Jupyter listens on: 127.0.0.1, or the inside end of the notebook's veth pair. */
    host: string | null;
    port: number | null;
    /** Jupyter's token, sealed with the platform's secret key; only the proxy ever opens it. */
    token_sealed: string;
    /** The network namespace (`aic-…`) of an egress-blocked notebook. */
    netns: string | null;
    work_dir: string;
    /** Micro-dollars per GPU-hour (or instance-hour) at creation. */
    rate_micros: number;
    estimate_micros: number;
    created_at: string;
    started_at: string | null;
    last_activity_at: string | null;
    idle_timeout_s: number;
    max_lifetime_s: number;
    warned_at: string | null;
    /** `idle` or `max_lifetime`: which stop the warning announced. */
    warning: string | null;
    snoozed_until: string | null;
    stopped_at: string | null;
    /** `user`, `idle`, `max_lifetime`, `exited`, `start_failed`, `lost`. */
    stop_reason: string | null;
    stop_message: string | null;
    metered_until: string | null;
    cost_micros: number;
    external_id: string | null;
  };
  models: {
    /** `mdl_…`. */
    id: string;
    /** Unique per team. */
    name: string;
    team: string;
    created_by: string;
    created_at: string;
    /** MLflow's description (0013); null when none was set. */
    description: string | null;
    /** JSON object name → text of MLflow's registered-model tags (0013); null when none. */
    tags: string | null;
    /** When the description or tags last changed (0013). */
    updated_at: string | null;
  };
  /** Files, digest, scan and lineage never change once written; only MLflow's description may (0013). */
  model_versions: {
    model_id: string;
    version: number;
    /** `job:<id>`, `path:<local path>` or `hf://org/name@revision`. */
    source: string;
    /** The runtime that serves it: `aicloud-tiny`, `vllm`, `llama.cpp`, … */
    runtime: string;
    /** JSON array of { path, sha256, size }. */
    files: string;
    /** sha256 over the file list: names the content-addressed copy. Null when nothing was fetched. */
    digest: string | null;
    /** The content-addressed copy under `<dataDir>/artifacts/`; null when nothing was fetched. */
    artifact_dir: string | null;
    /** JSON object name → number. */
    metrics: string;
    /** JSON object name → text. */
    tags: string;
    /** JSON of the scanner's result. */
    scan: string;
    /** `passed`, `needs_review`, `blocked` or `quarantined`. */
    scan_verdict: string;
    trust_remote_code: number;
    /** JSON { datasets: string[], jobId: string | null }. */
    lineage: string;
    created_by: string;
    created_at: string;
    /** MLflow's description (0013). */
    description: string | null;
    /** The MLflow run the version was registered from (`runs:/<run_id>/…`, 0013). */
    run_id: string | null;
    /** When the description last changed (0013). */
    updated_at: string | null;
  };
  model_aliases: {
    model_id: string;
    alias: string;
    version: number;
    updated_by: string;
    updated_at: string;
  };
  /** usage_ledger summed per team, UTC day of window_start, category, user, workload, resource and unit (triggers). */
  usage_daily: {
    team: string;
    day: string;
    category: string;
    user_name: string;
    source_kind: string;
    source_id: string;
    resource: string;
    unit: string;
    project: string | null;
    quantity: number;
    cost_micros: number;
    row_count: number;
  };
  /** One row per team, budget period and threshold (`50`, `80`, `100`, `soft`): an alert fires once. */
  budget_alerts: {
    team: string;
    period_start: string;
    threshold: string;
    fired_at: string;
    spent_micros: number;
    max_budget_micros: number;
    /** `none` (no webhook), `queued`, `delivered` or `failed`. */
    delivery: string;
  };
  /** Hours of storage already accrued into the ledger. */
  storage_meter_hours: { hour_start: string; bytes: number; created_at: string };
  endpoints: {
    id: string;
    name: string;
    team: string;
    model_id: string;
    model_name: string;
    version: number;
    runtime: string;
    artifact_dir: string;
    product: string;
    gpus: number;
    gpu_type: string | null;
    min_replicas: number;
    max_replicas: number;
    target_concurrency: number;
    idle_timeout_s: number;
    status: string;
    created_by: string;
    created_at: string;
    deleted_at: string | null;
    /** Browser origins its OpenAI surface answers with CORS (a JSON array, `*` for any); null: CORS off. */
    cors_origins?: string | null;
    /** Micro-dollars per replica GPU-hour (or instance-hour), fixed at deploy; null for endpoints before 0010. */
    rate_micros: number | null;
    /** A canary's stable endpoint (its id): the row is a rollout's new version, hidden from lists. */
    canary_of?: string | null;
  };
  /** Canary rollouts of a new version beside the serving one (migration 0018). */
  endpoint_rollouts: {
    id: string;
    endpoint_id: string;
    canary_id: string;
    endpoint: string;
    team: string;
    model: string;
    from_version: number;
    to_version: number;
    /** `progressing`, `promoted`, `rolled_back` or `aborted`. */
    status: string;
    /** The traffic weights in percent, step by step (a JSON array). */
    steps: string;
    step: number;
    window_s: number;
    min_requests: number;
    max_error_rate_increase: number;
    max_latency_ratio: number;
    /** Milliseconds the canary's p99 may exceed the ratio by (migration 0019; 50 for the rollouts before). */
    latency_allowance_ms: number;
    max_quality_drop: number;
    /** The quality comparison (JSON) once both versions were evaluated; null: no evaluation set or not yet. */
    quality: string | null;
    /** Why the current step waits (too few requests), if it does. */
    waiting: string | null;
    step_started_at: string;
    created_by: string;
    created_at: string;
    ended_at: string | null;
  };
  endpoint_rollout_decisions: {
    id: string;
    rollout_id: string;
    at: string;
    step: number;
    weight: number;
    /** `advance`, `promote`, `rollback` or `abort`. */
    decision: string;
    reason: string;
    figures: string;
    actor: string;
  };
  endpoint_keys: {
    id: string;
    endpoint_id: string;
    team: string;
    name: string;
    prefix: string;
    hash: string;
    rpm: number | null;
    tpm: number | null;
    max_tokens_per_period: number | null;
    period: string | null;
    created_by: string;
    created_at: string;
    revoked_at: string | null;
  };
  endpoint_replicas: {
    id: string;
    endpoint_id: string;
    port: number;
    external_id: string | null;
    status: string;
    gpu_indexes: string;
    started_at: string;
    ready_at: string | null;
    stopped_at: string | null;
    metered_until: string | null;
    cold_start_ms: number | null;
  };
  /** MLflow experiments; `id` is a decimal string, `name` unique per team. Times are epoch milliseconds. */
  tracking_experiments: {
    id: string;
    team: string;
    name: string;
    artifact_location: string;
    /** `active` or `deleted`. */
    lifecycle_stage: string;
    created_by: string;
    creation_time: number;
    last_update_time: number;
  };
  tracking_experiment_tags: { experiment_id: string; key: string; value: string };
  /** MLflow runs; `id` is 32 hex digits; `team` is the experiment's. */
  tracking_runs: {
    id: string;
    experiment_id: string;
    team: string;
    name: string;
    user_id: string;
    /** `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED`. */
    status: string;
    start_time: number;
    end_time: number | null;
    lifecycle_stage: string;
    artifact_uri: string;
    /** Where the run's artifacts lie on the server (never sent to clients). */
    artifact_dir: string;
    /** The aicloud job this run records, if any. */
    job_id: string | null;
  };
  tracking_params: { run_id: string; key: string; value: string };
  tracking_tags: { run_id: string; key: string; value: string };
  /** Every metric point; `value` is 0 where `is_nan` is 1. */
  tracking_metrics: {
    run_id: string;
    key: string;
    value: number;
    timestamp: number;
    step: number;
    is_nan: number;
  };
  /** Each run's latest point per metric key (highest step, then timestamp, then value). */
  tracking_latest_metrics: {
    run_id: string;
    key: string;
    value: number;
    timestamp: number;
    step: number;
    is_nan: number;
  };
  /** GPU figures from nvidia-smi, one row per sample, GPU and workload it is attributed to. */
  gpu_samples: {
    /** `job`, `notebook` or `replica`. */
    workload_kind: string;
    workload_id: string;
    team: string;
    gpu_index: number;
    gpu_uuid: string;
    gpu_name: string;
    /** `assignment` (the workload holds the GPU) or `pid` (its processes use one it does not hold). */
    attributed_by: string;
    /** Null where several workloads share an unassigned GPU. */
    utilization_percent: number | null;
    memory_used_mib: number | null;
    memory_total_mib: number;
    power_w: number | null;
    /** JSON array of the workload's pids on the GPU. */
    pids: string;
    time: string;
  };
  /** Firing and resolved events of alert rules, per rule and series (JSON of its labels). */
  alert_events: {
    id: string;
    rule: string;
    series: string;
    /** `firing` or `resolved`. */
    state: string;
    value: number | null;
    time: string;
    /** `none` (no webhook), `queued`, `delivered`, `failed`, `dropped` or `refused`. */
    delivery: string;
  };
  /** Pipelines (DAGs of steps, each step a job); `running`, `succeeded`, `failed`, `cancelled`. */
  pipelines: {
    id: string;
    name: string;
    team: string;
    owner: string;
    status: string;
    reason: string | null;
    created_at: string;
    ended_at: string | null;
    /** The MLflow experiment every step's run lands in (0016); null (before 0016): the pipeline's name. */
    experiment: string | null;
  };
  /** A pipeline's steps: `pending`, `running`, `retrying`, `succeeded`, `cached`, `failed`, `cancelled`. */
  pipeline_steps: {
    pipeline_id: string;
    name: string;
    position: number;
    /** JSON of the step as submitted. */
    spec: string;
    status: string;
    attempt: number;
    job_id: string | null;
    /** JSON array of every attempt's job id. */
    job_ids: string;
    cache_key: string | null;
    /** sha256 over the files of the step's output directory when it ended. */
    output_hash: string | null;
    reason: string | null;
    next_attempt_at: string | null;
    /** JSON object dataset path → content hash (null: not hashable) consumed by the step's last start (0014). */
    dataset_hashes?: string | null;
  };
  /** External AI providers (0015): the key lives in a platform secret named by `key_secret`, never here. */
  providers: {
    name: string;
    base_url: string;
    key_secret: string;
    /** JSON array of { name, inputMicrosPerMTok, outputMicrosPerMTok }. */
    models: string;
    /** `redact` or `block`. */
    pii_mode: string;
    /** JSON array of `provider/model` tried in order on a 5xx, a timeout or a connection error. */
    fallbacks: string;
    created_by: string;
    created_at: string;
  };
  /** An endpoint's evaluation set (0017): a registered JSONL dataset, an optional judge and schedule. */
  endpoint_eval_sets: {
    endpoint: string;
    team: string;
    dataset: string;
    judge: string | null;
    every_s: number | null;
    next_run_at: string | null;
    created_by: string;
    updated_at: string;
  };
  /** One quality evaluation of an endpoint's version (0017): scores 0–1, null where not measured. */
  endpoint_evals: {
    id: string;
    endpoint: string;
    team: string;
    model: string;
    version: number;
    dataset: string;
    judge: string | null;
    /** `manual` or `schedule`. */
    trigger: string;
    samples: number;
    failed: number;
    exact_match: number | null;
    f1: number | null;
    judge_score: number | null;
    created_by: string;
    started_at: string;
    finished_at: string;
  };
}
