import { ApiError, type Client } from '@aicloud/client';
import type { Endpoint, Rollout, RolloutFigures } from '@aicloud/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { QueryState } from '../pages/query-state.tsx';
import { errorMessage } from './api-errors.ts';
import { ms } from './endpoint-details.tsx';
import { duration, time } from './format.ts';
import { StatusBadge } from './outcome-badge.tsx';
import { ResponsiveTable } from './responsive-table.tsx';
import './endpoint-rollout.css';

/** A share 0–1 as a percentage with one decimal, or a dash. */
const percent = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)} %`);

/** An error-rate threshold (a fraction) in percentage points, as precise as it was set: `5.0`, `12.5`, `0.25`. */
function points(rate: number): string {
  const value = Math.round(rate * 10_000) / 100;
  return Number.isInteger(value * 10) ? value.toFixed(1) : value.toString();
}

/** One version's figures over a step: requests, errors, error rate, p99. */
function Figures({ figures }: { figures: RolloutFigures | undefined }) {
  if (!figures) return <>—</>;
  return (
    <>
      {figures.requests} req · {figures.errors} err ({percent(figures.errorRate)}) · p99{' '}
      {ms(figures.latencyP99Ms)}
    </>
  );
}

/** `10% → 20% → 40% → 80% → promote`, the current step in bold while it progresses. */
function Steps({ rollout }: { rollout: Rollout }) {
  return (
    <span className="rollout-steps">
      {rollout.steps.map((weight, index) => (
        <span key={weight}>
          {rollout.status === 'progressing' && index === rollout.step ? (
            <strong>{weight}%</strong>
          ) : (
            `${weight}%`
          )}
          {' → '}
        </span>
      ))}
      promote
    </span>
  );
}

/** Every decision so far, oldest first, with the figures of both versions it was taken on. */
function Decisions({ rollout }: { rollout: Rollout }) {
  if (rollout.decisions.length === 0)
    return <p className="muted small">No decision yet: the first comes once the first step is judged.</p>;
  return (
    <ResponsiveTable>
      <table data-testid="rollout-decisions">
        <thead>
          <tr>
            <th>Time</th>
            <th>Step</th>
            <th>Decision</th>
            <th>By</th>
            <th>Canary v{rollout.toVersion}</th>
            <th>Serving v{rollout.fromVersion}</th>
            <th>Quality</th>
            <th>Reason</th>
          </tr>
        </thead>
        <tbody>
          {rollout.decisions.map((decision, index) => (
            <tr
              key={`${decision.at}-${decision.decision}`}
              data-testid={`rollout-decision-${index}`}
              data-decision={decision.decision}
            >
              <td>{time(decision.at)}</td>
              <td>
                {decision.step + 1} ({decision.weight}%)
              </td>
              <td>
                <StatusBadge status={decision.decision} />
              </td>
              <td>{decision.actor}</td>
              <td data-side="canary">
                <Figures figures={decision.figures.canary} />
              </td>
              <td data-side="stable">
                <Figures figures={decision.figures.stable} />
              </td>
              <td data-side="quality">
                {decision.figures.quality
                  ? `${decision.figures.quality.metric} ${decision.figures.quality.canary?.toFixed(3) ?? '—'} vs ${decision.figures.quality.stable?.toFixed(3) ?? '—'}`
                  : '—'}
              </td>
              <td className="wrap-text">{decision.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ResponsiveTable>
  );
}

/** Promote now or abort, each after a confirm step; a refusal is shown with the API's message. */
function Actions({ client, rollout }: { client: Client; rollout: Rollout }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<'promote' | 'abort' | null>(null);
  const action = useMutation({
    mutationFn: (verb: 'promote' | 'abort') =>
      verb === 'promote'
        ? client.endpoints.promote(rollout.endpoint)
        : client.endpoints.abort(rollout.endpoint),
    onSuccess: (updated) => queryClient.setQueryData(['endpoints', 'rollout', rollout.endpoint], updated),
    // Refused or done, read the rollout and the endpoint (its version, its quality runs) again.
    onSettled: () => {
      setConfirming(null);
      return queryClient.invalidateQueries({ queryKey: ['endpoints'] });
    },
  });
  return (
    <>
      {rollout.status === 'progressing' &&
        (confirming === null ? (
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={action.isPending}
              onClick={() => setConfirming('promote')}
            >
              Promote now
            </button>
            <button
              type="button"
              className="danger"
              disabled={action.isPending}
              onClick={() => setConfirming('abort')}
            >
              Abort
            </button>
          </div>
        ) : (
          <div className="actions" data-testid="rollout-confirm">
            <span>
              {confirming === 'promote'
                ? `Promote version ${rollout.toVersion} now, without waiting for its analysis? It then serves every request.`
                : `Abort the rollout? Every request goes back to version ${rollout.fromVersion}; the canary's replicas stop.`}
            </span>
            <button
              type="button"
              className={confirming === 'promote' ? 'primary' : 'danger'}
              disabled={action.isPending}
              onClick={() => action.mutate(confirming)}
            >
              {confirming === 'promote' ? 'Yes, promote' : 'Yes, abort'}
            </button>
            <button type="button" disabled={action.isPending} onClick={() => setConfirming(null)}>
              {confirming === 'promote' ? 'Keep analysing' : 'Keep it'}
            </button>
          </div>
        ))}
      {action.isError && (
        <p role="alert" className="error" data-testid="rollout-refused">
          {errorMessage(action.error)}
        </p>
      )}
    </>
  );
}

/** Where a rollout is, what it is judged on, and its decisions. */
function RolloutView({ client, rollout }: { client: Client; rollout: Rollout }) {
  const { thresholds } = rollout;
  const progressing = rollout.status === 'progressing';
  return (
    <>
      <dl className="kv" data-testid="rollout-summary">
        <dt>State</dt>
        <dd data-testid="rollout-state" data-status={rollout.status}>
          <StatusBadge status={rollout.status} />{' '}
          <span className="muted small">
            started {time(rollout.createdAt)} by {rollout.createdBy}
            {rollout.endedAt ? `, ended ${time(rollout.endedAt)}` : ' · refreshes every 3 s'}
          </span>
        </dd>
        <dt>Canary</dt>
        <dd data-testid="rollout-canary">
          <code>
            {rollout.model}@{rollout.toVersion}
          </code>
          {rollout.status === 'promoted' ? ', now serving every request' : ''}
        </dd>
        <dt>Serving</dt>
        <dd data-testid="rollout-serving">
          <code>
            {rollout.model}@{rollout.fromVersion}
          </code>
          {rollout.status === 'promoted' ? ', replaced' : progressing ? '' : ', serving every request'}
        </dd>
        <dt>Weight</dt>
        <dd data-testid="rollout-weight">
          {progressing ? `${rollout.weight}% of requests to the canary` : '0%: the rollout has ended'}
        </dd>
        <dt>Step</dt>
        <dd data-testid="rollout-step">
          {progressing ? `${rollout.step + 1} of ${rollout.steps.length}: ` : ''}
          <Steps rollout={rollout} />
        </dd>
        <dt>Analysis</dt>
        <dd>
          {duration(rollout.analysisWindowSeconds)} per step, at least {rollout.minRequests} canary requests
          {progressing ? `; this step since ${time(rollout.stepStartedAt)}` : ''}
        </dd>
        <dt>Thresholds</dt>
        <dd data-testid="rollout-thresholds">
          against the serving version: error rate at most +{points(thresholds.maxErrorRateIncrease)} points,
          p99 at most {thresholds.maxLatencyRatio}× + {thresholds.latencyAllowanceMs} ms, quality at most −
          {thresholds.maxQualityDrop.toFixed(3)}
        </dd>
        {rollout.waiting && (
          <>
            <dt>Waiting</dt>
            <dd className="warning" data-testid="rollout-waiting">
              {rollout.waiting}
            </dd>
          </>
        )}
      </dl>
      <Actions client={client} rollout={rollout} />
      <h3>Decisions</h3>
      <Decisions rollout={rollout} />
    </>
  );
}

/**
 * The endpoint's newest canary rollout (`GET /v1/endpoints/:name/rollout`): state, versions, weight and step,
 * thresholds, each decision with its figures; promote or abort while it progresses, refreshed every 3 s then.
 */
export function EndpointRollout({ client, endpoint }: { client: Client; endpoint: Endpoint }) {
  const rollout = useQuery({
    queryKey: ['endpoints', 'rollout', endpoint.name],
    queryFn: () => client.endpoints.rollout(endpoint.name),
    // Live while it progresses; otherwise now and then, so a rollout started elsewhere shows up.
    refetchInterval: (query) => (query.state.data?.status === 'progressing' ? 3000 : 15_000),
  });
  // The endpoint never had a rollout: the API answers 404 for it (as for an endpoint it does not show).
  const none = rollout.error instanceof ApiError && rollout.error.status === 404;
  return (
    <section className="panel" aria-label="Canary rollout" data-testid="endpoint-rollout">
      <h2>Canary rollout</h2>
      {none ? (
        <p className="muted" data-testid="rollout-none">
          No rollout yet. Deploying another version onto this endpoint starts one:{' '}
          <code>
            aicloud deploy model --name {endpoint.model} --version N --endpoint {endpoint.name} --canary 10%
          </code>
        </p>
      ) : (
        <QueryState query={rollout}>{(data) => <RolloutView client={client} rollout={data} />}</QueryState>
      )}
    </section>
  );
}
