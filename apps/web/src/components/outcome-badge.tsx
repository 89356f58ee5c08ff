import type { Admission, JobStatus } from '@aicloud/contracts';

const admissionLabels: Record<Admission['outcome'], string> = {
  admitted: 'admitted',
  queued: 'queued',
  pending_approval: 'needs approval',
  rejected: 'denied',
};

/** An admission outcome as a coloured badge, in the words of the preview (`needs approval`, `denied`). */
export function OutcomeBadge({ outcome }: { outcome: Admission['outcome'] }) {
  return <span className={`badge badge-${outcome}`}>{admissionLabels[outcome]}</span>;
}

/** A job status (or approval status) as a coloured badge. */
export function StatusBadge({ status }: { status: JobStatus | string }) {
  return <span className={`badge badge-${status}`}>{status.replaceAll('_', ' ')}</span>;
}
