import { ApiError, type Client } from '@aicloud/client';

/** A key and value, as MLflow sends params and tags. */
export interface MlflowKeyValue {
  key: string;
  value: string;
}

/** A metric point as MLflow sends it (NaN and infinities as text). */
export interface MlflowMetric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}

/** MLflow's Experiment, the fields the portal reads. */
export interface MlflowExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
  tags?: MlflowKeyValue[];
}

/** MLflow's Run: its info and data (each metric's latest value, params, tags). */
export interface MlflowRun {
  info: {
    run_id: string;
    run_name: string;
    experiment_id: string;
    user_id: string;
    status: string;
    start_time: number;
    end_time?: number;
  };
  data: { metrics?: MlflowMetric[]; params?: MlflowKeyValue[]; tags?: MlflowKeyValue[] };
}

const PREFIX = '/api/2.0/mlflow';

/** The experiment's team, from the tag the platform sets on every experiment. */
export function teamOf(experiment: MlflowExperiment): string | null {
  return experiment.tags?.find((tag) => tag.key === 'aicloud.team')?.value ?? null;
}

/** A metric value as a number (MLflow sends NaN and infinities as text). */
export function metricNumber(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

/**
 * The MLflow-compatible tracking API the server answers at `/api/2.0/mlflow` (outside the `/v1` contract),
 * through the portal's client: the session cookie authenticates it like any other call.
 */
export function mlflowApi(client: Client) {
  // MLflow's error body is not the API's: keep the status, and say "unauthenticated" so an ended session signs out.
  const request = async <T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<T> => {
    try {
      return await client.request<T>(method, `${PREFIX}${path}`, body, query);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && error.code !== 'unauthenticated')
        throw new ApiError('unauthenticated', error.message, 401);
      throw error;
    }
  };
  return {
    /** The experiments of the caller's teams (active ones), newest first. */
    async experiments(): Promise<MlflowExperiment[]> {
      const answer = await request<{ experiments?: MlflowExperiment[] }>('POST', `/experiments/search`, {
        max_results: 1000,
      });
      return answer.experiments ?? [];
    },
    /** One experiment; another team's answers 404 like a missing one. */
    async experiment(id: string): Promise<MlflowExperiment> {
      const answer = await request<{ experiment: MlflowExperiment }>('GET', `/experiments/get`, undefined, {
        experiment_id: id,
      });
      return answer.experiment;
    },
    /** An experiment's runs (its latest 1000), newest first. */
    async runs(experimentId: string): Promise<MlflowRun[]> {
      const answer = await request<{ runs?: MlflowRun[] }>('POST', `/runs/search`, {
        experiment_ids: [experimentId],
        max_results: 1000,
      });
      return answer.runs ?? [];
    },
    /** Every point of one metric of one run. */
    async history(runId: string, key: string): Promise<MlflowMetric[]> {
      const answer = await request<{ metrics?: MlflowMetric[] }>('GET', `/metrics/get-history`, undefined, {
        run_id: runId,
        metric_key: key,
      });
      return answer.metrics ?? [];
    },
  };
}
