import type { Admission, PolicyHit } from '@aicloud/contracts';
import { usd } from './format.ts';
import { OutcomeBadge } from './outcome-badge.tsx';
import { ReasonsTable } from './reasons-table.tsx';

const summaries: Record<Admission['outcome'], string> = {
  admitted: 'It would start now.',
  queued: 'It would wait in the queue.',
  pending_approval: 'A manager of the team must approve it first.',
  rejected: 'The platform would refuse it.',
};

function Hits({ title, hits, testId }: { title: string; hits: PolicyHit[]; testId: string }) {
  if (hits.length === 0) return null;
  return (
    <div className="hits" data-testid={testId}>
      <strong>{title}</strong>
      <ul>
        {hits.map((hit) => (
          <li key={hit.policyId}>
            <code>{hit.policyId}</code>: {hit.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** An admission decision: outcome, cost estimate, guardrails, reasons and warnings. */
export function AdmissionView({ admission, testId }: { admission: Admission; testId: string }) {
  const { guardrails } = admission;
  return (
    <div className="admission" data-testid={testId}>
      <p className="outcome-line" data-testid={`${testId}-outcome`}>
        <OutcomeBadge outcome={admission.outcome} /> {summaries[admission.outcome]}
        {admission.outcome === 'queued' && admission.queuePosition !== null
          ? ` Position ${admission.queuePosition} in the queue.`
          : ''}
      </p>
      <dl className="kv" data-testid={`${testId}-estimate`}>
        <dt>Estimated cost</dt>
        <dd>
          <strong>{usd(admission.estimatedCost)}</strong> at most ({usd(guardrails.pricePerHour)}/h ×{' '}
          {guardrails.maxRuntime})
        </dd>
        <dt>Max runtime</dt>
        <dd>{guardrails.maxRuntime}</dd>
        {guardrails.idleRule && (
          <>
            <dt>Idle stop</dt>
            <dd>{guardrails.idleRule}</dd>
          </>
        )}
        <dt>Capacity</dt>
        <dd>
          {guardrails.spot ? 'spot' : 'on-demand'} (product: {guardrails.spotPolicy})
        </dd>
        {guardrails.quota && (
          <>
            <dt>Quota</dt>
            <dd>
              {guardrails.quota.left} of {guardrails.quota.nominal} × {guardrails.quota.gpuType} left
            </dd>
          </>
        )}
        {guardrails.budget && (
          <>
            <dt>Budget</dt>
            <dd>
              {usd(guardrails.budget.left)} of {usd(guardrails.budget.max)} left (
              {usd(guardrails.budget.used)} spent, {usd(guardrails.budget.committed)} committed;{' '}
              {guardrails.budget.period})
            </dd>
          </>
        )}
      </dl>
      <ReasonsTable reasons={admission.reasons} testId={`${testId}-reasons`} />
      <Hits title="Warnings" hits={admission.warnings} testId={`${testId}-warnings`} />
      <Hits
        title="Would refuse once enforced (dry-run policies)"
        hits={admission.dryRun}
        testId={`${testId}-dryrun`}
      />
    </div>
  );
}
