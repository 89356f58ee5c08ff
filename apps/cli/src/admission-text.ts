import type { Admission, Job, JobReason } from '@aicloud/contracts';

const usd = (value: number) => `$${value.toFixed(2)}`;

/** The estimate and the guardrails shown before a job is submitted. */
export function admissionSummary(
  request: { product: string; gpus: number; gpuType?: string | undefined; team?: string | undefined },
  admission: Admission,
): string {
  const { guardrails } = admission;
  const lines = [
    `Job on ${request.product}${request.team ? ` for ${request.team}` : ''}: ${request.gpus > 0 ? `${request.gpus} × ${request.gpuType ?? 'GPU'}` : 'CPU only'}`,
    `  estimated max cost  ${usd(admission.estimatedCost)}  (${usd(guardrails.pricePerHour)}/h × ${guardrails.maxRuntime})`,
    `  max runtime         ${guardrails.maxRuntime}`,
    `  idle rule           ${guardrails.idleRule ?? '-'}`,
    `  spot policy         ${guardrails.spotPolicy} (this job: ${guardrails.spot ? 'spot' : 'on-demand'})`,
    `  quota left          ${guardrails.quota ? `${guardrails.quota.left} × ${guardrails.quota.gpuType} (nominal ${guardrails.quota.nominal}, in use ${guardrails.quota.used})` : '-'}`,
    `  budget left         ${guardrails.budget ? `${usd(guardrails.budget.left)} of ${usd(guardrails.budget.max)} (${guardrails.budget.period}; spent ${usd(guardrails.budget.used)}, committed ${usd(guardrails.budget.committed)})` : 'no budget set'}`,
    `  policy              ${policyLine(admission)}`,
  ];
  for (const warning of admission.warnings) lines.push(`  warning [${warning.policyId}] ${warning.reason}`);
  for (const dry of admission.dryRun)
    lines.push(`  dry-run [${dry.policyId}] would have denied: ${dry.reason}`);
  return lines.join('\n');
}

function policyLine(admission: Admission): string {
  switch (admission.outcome) {
    case 'admitted':
      return 'allowed';
    case 'queued':
      return `allowed, but queued (${admission.reasons[0]?.code ?? 'waiting'})`;
    case 'pending_approval':
      return `needs approval (${admission.reasons.map((reason) => reason.rule).join(', ')})`;
    default:
      return `DENIED (${admission.reasons.map((reason) => reason.rule).join(', ')})`;
  }
}

/** One reason, with what was asked, the limit, the rule and the next command. */
export function reasonText(reason: JobReason): string {
  return [
    `  [${reason.rule ?? reason.code}] ${reason.message}`,
    reason.asked ? `    asked: ${reason.asked}` : null,
    reason.limit ? `    limit: ${reason.limit}` : null,
    reason.next ? `    next:  ${reason.next}` : null,
  ]
    .filter((line): line is string => line !== null)
    .join('\n');
}

/** What happened to a submitted job, and what to type next. */
export function outcomeText(job: Job, admission: Admission): string {
  const reasons = admission.reasons.map(reasonText).join('\n');
  switch (admission.outcome) {
    case 'admitted':
      return [
        `Job ${job.id} (${job.name}) admitted.`,
        'Useful commands:',
        `  aicloud jobs get ${job.id}`,
        `  aicloud jobs logs ${job.id} -f`,
        `  aicloud jobs cancel ${job.id}`,
      ].join('\n');
    case 'queued':
      return `Job ${job.id} queued at position ${admission.queuePosition ?? job.queuePosition ?? '?'}:\n${reasons}\nIt starts by itself; watch with: aicloud jobs get ${job.id}`;
    case 'pending_approval':
      return `Job ${job.id} is held for approval (${admission.approvalId}):\n${reasons}`;
    default:
      return `Job ${job.id} rejected:\n${reasons}`;
  }
}
