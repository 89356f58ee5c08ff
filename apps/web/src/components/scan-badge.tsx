import type { ScanVerdict } from '@aicloud/contracts';

const labels: Record<ScanVerdict, string> = {
  passed: 'scan passed',
  needs_review: 'needs review',
  blocked: 'blocked',
  quarantined: 'quarantined',
};

/** A model version's security-scan verdict as a coloured badge. */
export function ScanBadge({ verdict }: { verdict: ScanVerdict }) {
  return (
    <span
      className={`badge badge-scan-${verdict}`}
      data-testid="scan-badge"
      title={`scan verdict: ${verdict}`}
    >
      {labels[verdict]}
    </span>
  );
}
