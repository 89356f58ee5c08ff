import type { JobReason } from '@aicloud/contracts';

/** Why a job is where it is: for each reason the rule, its message, what was asked, the limit and the next step. */
export function ReasonsTable({ reasons, testId }: { reasons: JobReason[]; testId?: string }) {
  if (reasons.length === 0) return null;
  return (
    <ul className="reasons" data-testid={testId}>
      {reasons.map((reason) => (
        <li key={`${reason.code}|${reason.asked}|${reason.message}`} className="reason">
          <div className="reason-head">
            <span className="muted small">rule</span> <code>{reason.rule ?? reason.code}</code>
            {reason.rule && reason.rule !== reason.code && (
              <span className="muted small"> ({reason.code})</span>
            )}
          </div>
          <p className="reason-message">{reason.message}</p>
          <dl className="kv">
            <dt>Asked</dt>
            <dd>{reason.asked ?? '—'}</dd>
            <dt>Limit</dt>
            <dd>{reason.limit ?? '—'}</dd>
            <dt>Next</dt>
            <dd>{reason.next ? <code className="next">{reason.next}</code> : '—'}</dd>
          </dl>
        </li>
      ))}
    </ul>
  );
}
