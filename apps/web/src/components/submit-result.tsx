import type { SubmitJobRequest, SubmitJobResponse } from '@aicloud/contracts';
import type { UseMutationResult } from '@tanstack/react-query';
import { errorMessage, refusedAdmission } from './api-errors.ts';
import { usd } from './format.ts';
import { OutcomeBadge } from './outcome-badge.tsx';
import { ReasonsTable } from './reasons-table.tsx';

/** What the real submission answered: the job and its outcome, or the refusal and its reasons. */
export function SubmitResult({
  mutation,
  current,
}: {
  mutation: UseMutationResult<SubmitJobResponse, Error, SubmitJobRequest>;
  /** Whether the form still describes what was submitted: a refusal of an older request is not shown. */
  current: boolean;
}) {
  if (mutation.isIdle || mutation.isPending) return null;
  if (mutation.isError) {
    if (!current) return null;
    const admission = refusedAdmission(mutation.error);
    return (
      <div className="result result-refused" data-testid="submit-result">
        <h3>Refused</h3>
        <p role="alert" className="error">
          {errorMessage(mutation.error)}
        </p>
        {admission && <ReasonsTable reasons={admission.reasons} testId="submit-reasons" />}
      </div>
    );
  }
  const { job, admission } = mutation.data;
  return (
    <div className={`result result-${admission.outcome}`} data-testid="submit-result">
      <h3>Submitted</h3>
      <p>
        Job <code data-testid="submitted-job-id">{job?.id}</code> <OutcomeBadge outcome={admission.outcome} />
        {admission.outcome === 'pending_approval' &&
          ` — held for approval${admission.approvalId ? ` (${admission.approvalId})` : ''}: a manager of ${job?.team} decides on the Approvals page.`}
        {admission.outcome === 'queued' &&
          ` — position ${admission.queuePosition ?? '?'} in the queue; it starts by itself.`}
        {admission.outcome === 'admitted' && ` — estimated at most ${usd(admission.estimatedCost)}.`}
      </p>
      <ReasonsTable reasons={admission.reasons} testId="submit-reasons" />
    </div>
  );
}
